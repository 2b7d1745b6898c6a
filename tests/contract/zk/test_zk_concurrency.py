"""Concurrent writers: compare-and-set keeps the registry consistent.

Two clients (two ZooKeeper sessions, or two threads on the in-memory twin)
race on the same machine. Their moves are serialised: exactly one wins a given
state move, and updates of different fields are both kept.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.core.errors import IllegalTransition
from imgproc.core.machines import MachineState

S = MachineState
RACES = 8


def _race(calls):
    """Run the calls at the same moment on their own threads; results or exceptions."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - the race's loser is part of the result
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_clients_draining_the_same_machine_exactly_one_wins(backend, make_machine):
    first, second = (backend.registry(backend.session()) for _ in range(2))
    for n in range(RACES):
        first.create(make_machine(f"m{n}", S.RUNNING))
    for n in range(RACES):
        outcomes = _race([
            partial(first.transition, f"m{n}", S.DRAINING, at=1.0, reason="first"),
            partial(second.transition, f"m{n}", S.DRAINING, at=2.0, reason="second"),
        ])
        losers = [o for o in outcomes if isinstance(o, IllegalTransition)]
        winners = [o for o in outcomes if not isinstance(o, Exception)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        assert (losers[0].current, losers[0].requested) == ("draining", "draining")
        assert first.get(f"m{n}") == winners[0]


def test_concurrent_updates_of_different_fields_are_both_kept(backend, make_machine):
    first, second = (backend.registry(backend.session()) for _ in range(2))
    first.create(make_machine("m1", S.RUNNING))

    def addresses():
        for n in range(20):
            first.update("m1", address=f"10.0.0.{n}")

    def jobs():
        for n in range(20):
            second.update("m1", current_job=f"job-{n}", jobs_done=n)

    assert _race([addresses, jobs]) == [None, None]
    final = first.get("m1")
    assert (final.address, final.current_job, final.jobs_done) == ("10.0.0.19", "job-19", 19)


def test_a_move_and_an_update_racing_are_both_kept(backend, make_machine):
    first, second = (backend.registry(backend.session()) for _ in range(2))
    for n in range(RACES):
        first.create(make_machine(f"m{n}", S.RUNNING))
        _race([
            partial(first.transition, f"m{n}", S.DRAINING, at=5.0),
            partial(second.update, f"m{n}", current_job="j1"),
        ])
        final = first.get(f"m{n}")
        assert (final.state, final.current_job) == (S.DRAINING, "j1")


class _Interleaving:
    """A KazooClient stand-in that lets another writer in right after the first read."""

    def __init__(self, client, meddle):
        self._client = client
        self._meddle = meddle
        self.reads = 0

    def get(self, *args, **kwargs):
        result = self._client.get(*args, **kwargs)
        self.reads += 1
        if self.reads == 1:
            self._meddle()
        return result

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_write_that_lost_the_race_is_retried_from_a_fresh_read(zk, make_machine):
    other = zk.registry(zk.session())
    other.create(make_machine("m1", S.RUNNING))
    client = _Interleaving(zk.session(), lambda: other.update("m1", address="10.0.0.1"))
    registry = ZkMachineRegistry(client, zk.root)

    moved = registry.transition("m1", S.DRAINING, at=3.0)

    assert client.reads == 2
    assert (moved.state, moved.address) == (S.DRAINING, "10.0.0.1")
    assert other.get("m1") == moved


def test_a_retried_move_is_checked_against_the_state_the_other_writer_left(zk, make_machine):
    other = zk.registry(zk.session())
    other.create(make_machine("m1", S.RUNNING))
    client = _Interleaving(zk.session(),
                           lambda: other.transition("m1", S.FAILED, at=2.0, reason="lost"))
    registry = ZkMachineRegistry(client, zk.root)

    with pytest.raises(IllegalTransition) as caught:
        registry.transition("m1", S.DRAINING, at=3.0)

    assert caught.value.current == "failed"
    assert other.get("m1").reason == "lost"
