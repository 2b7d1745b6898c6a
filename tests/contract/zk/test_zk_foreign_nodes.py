"""Garbage under ``machines/`` (bytes that are not JSON, another schema, a record of another
machine, a name that is not a machine id), written as a foreign client or a hand with
kazoo would: the listing logs and skips it, and never fails, on the in-memory twin and on
ZooKeeper. Reading such a node by its name still says what is wrong with it."""

from __future__ import annotations

import json
import logging

import pytest

from imgproc.adapters.zk.client import CorruptRecord
from imgproc.adapters.zk.layout import BadNodeName
from imgproc.core.machines import MachineState

S = MachineState


def record(machine_id: str, **changes: object) -> bytes:
    values = {"v": 1, "id": machine_id, "state": "running", "requested_at": 1.0,
              "state_since": 1.0, **changes}
    return json.dumps(values).encode()


GARBAGE = {
    "not-json": b"\x00\xff{ not json",
    "empty": b"",
    "future-schema": record("future-schema", v=2),
    "no-state": json.dumps({"v": 1, "id": "no-state"}).encode(),
    "unknown-state": record("unknown-state", state="hibernating"),
    "extra-field": record("extra-field", colour="blue"),
    "someone-else": record("m-other"),
    "-not-an-id": record("-not-an-id"),
    # too long for a machine id (ZooKeeper refuses control characters in names)
    "x" * 201: record("x" * 201),
}


@pytest.fixture
def littered(backend, make_machine):
    """A registry holding two good machines among every kind of garbage."""
    registry = backend.registry()
    registry.create(make_machine("m1", S.RUNNING))
    registry.create(make_machine("m2", S.DESTROYED))
    for name, data in GARBAGE.items():
        backend.write_raw(name, data)
    return registry


def test_the_listing_skips_every_node_that_is_not_a_machine_record(littered):
    assert [m.id for m in littered.all_machines()] == ["m1", "m2"]
    assert [m.id for m in littered.machines()] == ["m1"]


def test_each_skipped_node_is_logged_once_naming_its_path(littered, caplog):
    with caplog.at_level(logging.WARNING, logger="imgproc.adapters.zk.layout"):
        littered.all_machines()
        littered.machines()
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == len(GARBAGE), skipped
    for name in GARBAGE:
        assert sum(f"/machines/{name} " in message for message in skipped) == 1, name


def test_reading_a_garbage_node_by_its_id_says_what_is_wrong(littered):
    with pytest.raises(CorruptRecord, match="not-json"):
        littered.get("not-json")
    with pytest.raises(CorruptRecord, match="records machine 'm-other'"):
        littered.get("someone-else")
    with pytest.raises(BadNodeName, match="machine id"):
        littered.get("-not-an-id")


def test_good_machines_among_garbage_still_change(littered):
    littered.transition("m1", S.DRAINING, at=2.0)
    assert [(m.id, m.state) for m in littered.machines()] == [("m1", S.DRAINING)]


@pytest.mark.parametrize("bad", ["-x", "a\x01b", "x" * 201])
def test_a_machine_whose_id_is_no_machine_id_cannot_be_created(backend, make_machine, bad):
    registry = backend.registry()
    with pytest.raises(BadNodeName, match="machine id"):
        registry.create(make_machine(bad))
    assert registry.all_machines() == []
