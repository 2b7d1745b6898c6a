"""The machine registry's contract, on the in-memory twin and on ZooKeeper."""

from __future__ import annotations

import pytest

from imgproc.adapters.zk.client import MachineExists
from imgproc.adapters.zk.layout import BadNodeName, BadRecord, BadUpdate
from imgproc.core.errors import IllegalTransition, UnknownMachine
from imgproc.core.machines import MachineState

S = MachineState


def test_a_created_machine_reads_back_with_every_field(backend, make_machine):
    registry = backend.registry()
    machine = make_machine("m1", S.RUNNING, address="10.0.0.7", current_job="j1",
                           jobs_done=3, reason="booted", details={"type": "worker", "memory": 512})
    registry.create(machine)
    assert registry.get("m1") == machine


def test_creating_an_existing_machine_fails_and_keeps_the_first(backend, make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1", S.PREPARING))
    with pytest.raises(MachineExists, match="m1"):
        registry.create(make_machine("m1", S.RUNNING))
    assert registry.get("m1").state is S.PREPARING


def test_reading_an_unknown_machine_raises_unknown_machine(backend):
    with pytest.raises(UnknownMachine, match="ghost"):
        backend.registry().get("ghost")


def test_changing_or_deleting_an_unknown_machine_raises_unknown_machine(backend):
    registry = backend.registry()
    with pytest.raises(UnknownMachine):
        registry.transition("ghost", S.BOOTING, at=1.0)
    with pytest.raises(UnknownMachine):
        registry.update("ghost", address="x")
    with pytest.raises(UnknownMachine):
        registry.delete("ghost")


def test_a_legal_transition_moves_the_state_and_stamps_time_and_reason(backend, make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1", S.PREPARING, at=10.0))
    moved = registry.transition("m1", S.BOOTING, at=12.5, reason="vm created")
    assert (moved.state, moved.state_since, moved.reason) == (S.BOOTING, 12.5, "vm created")
    assert moved.requested_at == 10.0
    assert registry.get("m1") == moved


def test_an_illegal_transition_is_rejected_and_the_record_is_unchanged(backend, make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1", S.PREPARING))
    before = registry.get("m1")
    with pytest.raises(IllegalTransition) as caught:
        registry.transition("m1", S.DRAINING, at=200.0)
    assert (caught.value.current, caught.value.requested) == ("preparing", "draining")
    assert registry.get("m1") == before


def test_update_changes_details_and_leaves_the_state_alone(backend, make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1", S.RUNNING))
    updated = registry.update("m1", address="10.0.0.9", current_job="j7", jobs_done=4,
                              details={"zone": "a"})
    assert (updated.address, updated.current_job, updated.jobs_done) == ("10.0.0.9", "j7", 4)
    assert updated.details == {"zone": "a"} and updated.state is S.RUNNING
    assert registry.get("m1") == updated


def test_update_refuses_the_state_and_other_fixed_fields(backend, make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1", S.RUNNING))
    before = registry.get("m1")
    with pytest.raises(BadUpdate, match="state"):
        registry.update("m1", state=S.DESTROYED)
    with pytest.raises(BadUpdate, match="requested_at"):
        registry.update("m1", requested_at=0.0)
    assert registry.get("m1") == before


def test_values_that_are_not_json_are_refused_and_the_record_is_unchanged(backend, make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1", S.RUNNING))
    before = registry.get("m1")
    with pytest.raises(BadRecord):
        registry.update("m1", details={"handle": object()})
    with pytest.raises(BadRecord):
        registry.update("m1", jobs_done=-1)
    assert registry.get("m1") == before


def test_ids_that_cannot_be_node_names_are_refused(backend, make_machine):
    registry = backend.registry()
    for bad in ("a/b", "..", ""):
        with pytest.raises(BadNodeName):
            registry.create(make_machine(bad))
    assert registry.all_machines() == []


def test_a_deleted_machine_is_gone(backend, make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1"))
    registry.delete("m1")
    with pytest.raises(UnknownMachine):
        registry.get("m1")
    assert registry.all_machines() == []


def test_machines_hides_destroyed_ones_and_all_machines_shows_them(backend, make_machine):
    registry = backend.registry()
    for machine_id, state in [("m3", S.DESTROYED), ("m1", S.RUNNING), ("m2", S.FAILED)]:
        registry.create(make_machine(machine_id, state))
    assert [m.id for m in registry.machines()] == ["m1", "m2"]
    assert [m.id for m in registry.all_machines()] == ["m1", "m2", "m3"]


def test_an_empty_registry_lists_no_machines(backend):
    assert backend.registry().machines() == []
    assert backend.registry().all_machines() == []


def test_a_whole_lifecycle_ends_destroyed_and_hidden(backend, make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1", S.PREPARING, at=0.0))
    for at, state in enumerate([S.BOOTING, S.RUNNING, S.DRAINING, S.DESTROYING, S.DESTROYED], 1):
        registry.transition("m1", state, at=float(at))
    assert registry.get("m1").state is S.DESTROYED
    assert registry.machines() == []
    with pytest.raises(IllegalTransition, match="terminal"):
        registry.transition("m1", S.RUNNING, at=9.0)
