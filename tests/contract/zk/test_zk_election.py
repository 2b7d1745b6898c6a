"""Scaler leader election on ZooKeeper: one leader at a time, the next takes over.

ZooKeeper only: an in-memory election would be a lock in one process and
would prove nothing about sessions.
"""

from __future__ import annotations

import threading

import pytest
from polling import wait_for

from imgproc.adapters.zk.client import RegistryUnavailable
from imgproc.adapters.zk.election import ScalerElection


class Contender:
    """A scaler process: its own session, an election, and a leader loop on a thread."""

    def __init__(self, zk, name: str) -> None:
        self.name = name
        self.client = zk.session()
        self.election = ScalerElection(self.client, zk.root, identifier=name)
        self.leading = threading.Event()
        self.release = threading.Event()
        self.outcome: list[object] = []
        self._thread = threading.Thread(target=self._contend, name=name, daemon=True)

    def start(self) -> Contender:
        self._thread.start()
        return self

    def join(self, within_s: float = 5.0) -> None:
        self._thread.join(within_s)
        assert not self._thread.is_alive(), f"{self.name} still running after {within_s}s"

    def _lead(self) -> None:
        self.leading.set()
        while not self.release.is_set() and not self.election.wait_stop(0.02):
            pass

    def _contend(self) -> None:
        try:
            self.outcome.append(self.election.run(self._lead))
        except Exception as exc:  # noqa: BLE001 - the tests assert on whatever it raised
            self.outcome.append(exc)


def _the_leader(contenders: list[Contender]) -> Contender:
    wait_for(lambda: any(c.leading.is_set() for c in contenders), "a leader elected")
    return next(c for c in contenders if c.leading.is_set())


def test_of_two_contenders_only_one_leads_and_the_other_takes_over(zk):
    contenders = [Contender(zk, "scaler-a").start(), Contender(zk, "scaler-b").start()]
    leader = _the_leader(contenders)
    other = next(c for c in contenders if c is not leader)
    wait_for(lambda: len(leader.election.contenders()) == 2, "both contending")
    assert not other.leading.is_set()

    leader.release.set()
    leader.join()

    wait_for(other.leading.is_set, f"{other.name} takes over")
    assert leader.outcome == [True]
    other.release.set()
    other.join()


def test_contenders_are_listed_with_the_leader_first(zk):
    contenders = [Contender(zk, "scaler-a").start(), Contender(zk, "scaler-b").start()]
    leader = _the_leader(contenders)
    names = wait_for(lambda: len(leader.election.contenders()) == 2
                     and leader.election.contenders(), "both listed")
    assert names[0] == leader.name and sorted(names) == ["scaler-a", "scaler-b"]
    for contender in contenders:
        contender.election.cancel()
        contender.join()


def test_a_cancelled_waiting_contender_returns_without_leading(zk):
    leader = Contender(zk, "scaler-a").start()
    wait_for(leader.leading.is_set, "first leader")
    waiting = Contender(zk, "scaler-b").start()
    wait_for(lambda: len(leader.election.contenders()) == 2, "second contending")

    waiting.election.cancel()
    waiting.join()

    assert waiting.outcome == [False] and not waiting.leading.is_set()
    assert leader.election.contenders() == ["scaler-a"]
    leader.release.set()
    leader.join()


def test_cancelling_the_leader_asks_its_loop_to_stop(zk):
    leader = Contender(zk, "scaler-a").start()
    wait_for(leader.leading.is_set, "leader")
    leader.election.cancel()
    leader.join()
    assert leader.outcome == [True] and leader.election.should_stop()


def test_a_cancelled_election_does_not_contend_again(zk):
    election = ScalerElection(zk.session(), zk.root, identifier="scaler-a")
    election.cancel()
    assert election.run(lambda: pytest.fail("a cancelled election must not lead")) is False


def test_when_the_leaders_session_ends_it_is_told_to_stop_and_another_leads(zk):
    contenders = [Contender(zk, "scaler-a").start(), Contender(zk, "scaler-b").start()]
    leader = _the_leader(contenders)
    other = next(c for c in contenders if c is not leader)

    zk.close_session(leader.client)

    wait_for(leader.election.should_stop, "old leader told to stop")
    wait_for(other.leading.is_set, f"{other.name} takes over")
    leader.join()
    assert len(leader.outcome) == 1 and isinstance(leader.outcome[0], RegistryUnavailable)
    other.release.set()
    other.join()
