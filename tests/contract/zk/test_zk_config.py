"""The scaler's live configuration and status: read, write, and watch across sessions."""

from __future__ import annotations

import threading

import pytest
from polling import wait_for

from imgproc.adapters.zk.client import CorruptRecord
from imgproc.adapters.zk.config import ZkConfigStore
from imgproc.core.messages import ScalerConfig, ScalerStatus


class Seen:
    """Collects what a watch callback was given, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: list[ScalerConfig | None] = []

    def __call__(self, config: ScalerConfig | None) -> None:
        with self._lock:
            self._values.append(config)

    def values(self) -> list[ScalerConfig | None]:
        with self._lock:
            return list(self._values)

    def last_is(self, expected: ScalerConfig | None) -> bool:
        values = self.values()
        return bool(values) and values[-1] == expected


def test_no_config_reads_as_none(backend):
    assert backend.config().read() is None


def test_a_written_config_reads_back_in_another_session(backend):
    config = ScalerConfig(policy="queuesize", params={"high": 20}, requested_at=5.0)
    backend.config(backend.session()).write(config)
    assert backend.config(backend.session()).read() == config


def test_a_new_config_replaces_the_old_one(backend):
    store = backend.config()
    store.write(ScalerConfig(policy="queuesize"))
    store.write(ScalerConfig(policy="slo", params={"slo_s": 1.5}))
    assert store.read() == ScalerConfig(policy="slo", params={"slo_s": 1.5})


def test_a_watch_is_called_at_once_with_the_current_config(backend):
    backend.config().write(ScalerConfig(policy="constantsize"))
    seen = Seen()
    backend.config(backend.session()).watch(seen)
    wait_for(lambda: seen.last_is(ScalerConfig(policy="constantsize")), "first call")


def test_a_watch_sees_a_write_from_another_session_within_a_deadline(backend):
    seen = Seen()
    backend.config(backend.session()).watch(seen)
    wait_for(lambda: seen.values() == [None], "first call with no config")
    writer = backend.config(backend.session())
    for policy in ("queuesize", "queuerate"):
        writer.write(ScalerConfig(policy=policy))
        wait_for(lambda p=policy: seen.last_is(ScalerConfig(policy=p)), f"watch sees {policy}")


def test_a_watch_sees_none_when_the_config_is_deleted(backend):
    store = backend.config()
    store.write(ScalerConfig(policy="queuesize"))
    seen = Seen()
    backend.config(backend.session()).watch(seen)
    wait_for(lambda: seen.last_is(ScalerConfig(policy="queuesize")), "first call")
    store.delete()
    wait_for(lambda: seen.last_is(None), "watch sees the deletion")


def test_a_failing_callback_does_not_stop_the_watch(backend):
    seen = Seen()

    def flaky(config: ScalerConfig | None) -> None:
        seen(config)
        raise RuntimeError("callback bug")

    backend.config(backend.session()).watch(flaky)
    backend.config().write(ScalerConfig(policy="queuesize"))
    backend.config().write(ScalerConfig(policy="slo"))
    wait_for(lambda: seen.last_is(ScalerConfig(policy="slo")), "watch survives")


def test_scaler_status_is_none_until_written_then_reads_back(backend):
    status = ScalerStatus(identifier="scaler@host-1", policy="slo", applied_at=12.0)
    assert backend.status().read() is None
    backend.status(backend.session()).write(status)
    assert backend.status(backend.session()).read() == status


def test_a_corrupt_config_node_raises_corrupt_record_naming_the_path(zk):
    store = zk.config()
    store.write(ScalerConfig(policy="slo"))
    zk.session().set(f"{zk.root}/config/scaler", b"{not json")
    with pytest.raises(CorruptRecord, match="config/scaler"):
        store.read()


def test_a_watch_skips_a_corrupt_config_and_sees_the_next_good_one(zk):
    seen = Seen()
    ZkConfigStore(zk.session(), zk.root).watch(seen)
    writer = zk.session()
    zk.config(writer).write(ScalerConfig(policy="slo"))
    writer.set(f"{zk.root}/config/scaler", b"garbage")
    zk.config(writer).write(ScalerConfig(policy="queuesize"))
    wait_for(lambda: seen.last_is(ScalerConfig(policy="queuesize")), "good config")
    assert all(v is None or isinstance(v, ScalerConfig) for v in seen.values())
