"""The live scaler's first configuration: the stored one, or the settings' one, written so
that operators can change it, and kept even when the stored node vanishes at once."""

from __future__ import annotations

from imgproc.adapters.memory.registry import MemoryConfigStore
from imgproc.core.messages import ScalerConfig
from imgproc.live.scaler import initial_config
from imgproc.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)


def test_with_no_stored_config_the_settings_policy_is_written_and_used():
    store = MemoryConfigStore()

    config = initial_config(store, settings(policy="queuesize", policy_params={"up_above": 7}),
                            now=12.0)

    assert (config.policy, config.params, config.requested_at) == ("queuesize",
                                                                  {"up_above": 7}, 12.0)
    assert store.read() == config


def test_a_stored_config_wins_over_the_settings_and_is_not_rewritten():
    store = MemoryConfigStore()
    stored = ScalerConfig(policy="slo", params={}, requested_at=1.0)
    store.write(stored)
    writes: list[ScalerConfig | None] = []
    store.watch(writes.append)

    assert initial_config(store, settings(policy="queuesize"), now=12.0) == stored
    assert writes == [stored]  # the watch's first call only: nothing written


def test_the_written_config_is_used_even_if_the_node_is_deleted_right_after_the_write():
    """The first version wrote the config, then read it back: an operator's `imgproc zk
    clear` in between made it start with no config at all (None)."""
    store = MemoryConfigStore()
    store.watch(lambda config: config is not None and store.delete())

    config = initial_config(store, settings(policy="target-tracking"), now=5.0)

    assert store.read() is None
    assert config.policy == "target-tracking"
