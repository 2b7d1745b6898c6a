"""The provider contract: what the deployer relies on, held by every registered provider.

Each test runs once per provider (the ``case`` fixture, conftest.py): memory, local
(real processes of a stand-in worker) and vagrant-parts (the real Vagrant provider
with fake Vagrant and libvirt; the real VMs are tests/vagrant/test_vagrant_e2e.py).

- the registry builds each kind from ``ProviderSettings(kind=...)`` with its options,
  its common fields and the workers' settings, and refuses unknown kinds and options
  with a message that names them;
- ``name`` is the registry key; ``Options`` refuses unknown keys and has a default for
  every option;
- ``start`` returns an address or None, and the machine is then in ``alive()``; a start
  that fails raises ``ProviderError``;
- ``stop`` asks the machine to finish its job before it goes, and it is then not in
  ``alive()``; stopping an unknown or already stopped id is harmless;
- ``interrupt_starts()`` and ``close()`` may be called at any time, twice; the first
  cuts short a start under way (it fails) and leaves started machines alone, the
  second leaves the machines as they are.
"""

from __future__ import annotations

import threading

import pytest
from polling import wait_for
from pydantic import ValidationError

from imgproc.adapters.providers import ProviderSettings, build_provider, provider_names
from imgproc.adapters.providers.registry import provider_entry
from imgproc.core.errors import ConfigurationError, ProviderError

# -- the registry and the settings ---------------------------------------------------------


def test_every_registered_provider_is_held_to_the_contract(contract_kinds):
    assert sorted(provider_names()) == sorted(contract_kinds), (
        "a provider without a case in tests/contract/providers/conftest.py (docs/providers.md)")


def test_the_registry_builds_each_kind_from_its_settings(case, tmp_path):
    settings = ProviderSettings(kind=case.kind, state_dir=tmp_path / "built",
                                drain_timeout_s=7.0, options=case.options)

    provider = build_provider(settings, case.worker_settings)
    try:
        assert type(provider) is provider_entry(case.kind).load()
        assert settings.boot_timeout_s == provider_entry(case.kind).boot_timeout_s
        assert case.made_with(provider) == case.expected_from(settings)
    finally:
        provider.close()


def test_unknown_options_are_refused_with_a_clear_error(case, tmp_path):
    with pytest.raises(ValidationError, match=rf"options of provider {case.kind}: "
                       r"options\.no_such_option: Extra inputs are not permitted"):
        ProviderSettings(kind=case.kind, options={"no_such_option": 1})
    # and from_settings checks them again, whoever made the settings
    unchecked = ProviderSettings.model_construct(kind=case.kind, state_dir=tmp_path / "built",
                                                 options={"no_such_option": 1})
    with pytest.raises(ValidationError, match="no_such_option"):
        build_provider(unchecked, case.worker_settings)


def test_an_unknown_kind_is_refused_with_the_known_ones():
    known = ", ".join(provider_names())
    with pytest.raises(ValidationError, match=f"unknown provider 'cloud'; known: {known}"):
        ProviderSettings(kind="cloud")
    with pytest.raises(ConfigurationError, match=f"unknown provider 'cloud'; known: {known}"):
        build_provider(ProviderSettings.model_construct(kind="cloud"), {})


def test_the_name_is_the_registry_key(case):
    assert case.provider.name == case.kind
    assert provider_entry(case.kind).load() is type(case.provider)


def test_options_refuse_unknown_keys_and_default_every_option(case):
    options = type(case.provider).Options
    with pytest.raises(ValidationError, match="no_such_option"):
        options.model_validate({"no_such_option": 1})
    options.model_validate({})
    options.model_validate(case.options)


# -- the port -------------------------------------------------------------------------------


def test_a_started_machine_has_an_address_or_none_and_is_alive(case):
    provider = case.provider
    assert provider.alive() == set()

    address = provider.start("worker-1")

    assert address is None or (isinstance(address, str) and address)
    alive = provider.alive()
    assert isinstance(alive, set)
    assert alive == {"worker-1"}


def test_a_stopped_machine_was_drained_and_is_not_alive(case):
    provider = case.provider
    provider.start("worker-1")
    provider.start("worker-2")
    wait_for(lambda: case.ready("worker-1"), "worker-1 ready", timeout_s=10.0)

    provider.stop("worker-1")

    assert case.drained("worker-1")
    assert provider.alive() == {"worker-2"}


def test_stopping_an_unknown_or_already_stopped_machine_is_harmless(case):
    provider = case.provider
    provider.start("worker-1")
    provider.start("worker-2")

    provider.stop("worker-9")
    provider.stop("worker-1")
    provider.stop("worker-1")

    assert provider.alive() == {"worker-2"}


@pytest.mark.parametrize("bad_id", ["..", "../victim", "a/b", ""])
def test_an_id_that_could_name_a_path_is_refused_by_start_and_stop(case, bad_id):
    provider = case.provider
    provider.start("worker-1")

    with pytest.raises(ProviderError, match="machine id"):
        provider.start(bad_id)
    with pytest.raises(ProviderError, match="machine id"):
        provider.stop(bad_id)

    assert provider.alive() == {"worker-1"}


def test_a_start_that_fails_raises_a_provider_error_and_its_stop_clears_it(case):
    provider = case.provider
    case.fail_start_of("worker-1")

    with pytest.raises(ProviderError):
        provider.start("worker-1")
    provider.stop("worker-1")  # what the deployer does with a machine that failed

    assert "worker-1" not in provider.alive()


def test_interrupt_starts_may_be_called_at_any_time_and_leaves_started_machines_alone(case):
    provider = case.provider
    provider.interrupt_starts()
    provider.interrupt_starts()
    provider.start("worker-1")

    provider.interrupt_starts()
    provider.interrupt_starts()

    assert provider.alive() == {"worker-1"}
    provider.stop("worker-1")
    provider.interrupt_starts()
    assert provider.alive() == set()


def test_interrupt_starts_cuts_short_a_start_under_way(case):
    provider = case.provider
    outcome: dict[str, object] = {}

    def start() -> None:
        try:
            outcome["address"] = provider.start("worker-1")
        except ProviderError as exc:
            outcome["error"] = exc

    with case.held_starts() as held:
        thread = threading.Thread(target=start)
        thread.start()
        wait_for(lambda: "worker-1" in provider.alive() or outcome, "the start begun",
                 timeout_s=10.0)
        provider.interrupt_starts()
        provider.interrupt_starts()
        thread.join(10)

    assert not thread.is_alive(), "interrupt_starts did not end the start"
    if held:  # the start was still under way: it must fail
        assert isinstance(outcome.get("error"), ProviderError), outcome
    else:  # starts are instant here: it was done before the interruption
        assert "address" in outcome or "error" in outcome
    provider.stop("worker-1")  # the deployer destroys what the start left
    assert provider.alive() == set()


def test_close_may_be_called_at_any_time_twice_and_leaves_the_machines_as_they_are(case):
    provider = case.provider
    provider.close()
    provider.close()
    provider.start("worker-1")

    provider.close()
    provider.close()

    assert provider.alive() == {"worker-1"}
