"""The deployers' lock on ZooKeeper: one deployer of an owner acts at a time, the next waits
until the first lets go (or its session ends), deployers of other owners never wait, and a
wait ends when the deployer is told to stop."""

from __future__ import annotations

import threading
import time

from polling import wait_for

from imgproc.adapters.zk.registry import OwnerLock, Tenure


def waiting_for(lock: OwnerLock, stop: threading.Event) -> list[Tenure | None]:
    """``lock.hold(stop)`` on a thread; the list gets its outcome."""
    got: list[Tenure | None] = []
    threading.Thread(target=lambda: got.append(lock.hold(stop)), daemon=True).start()
    return got


def test_the_second_deployer_of_an_owner_waits_until_the_first_lets_go(zk):
    first = OwnerLock(zk.session(), zk.root, "local@h:/a", "first")
    second = OwnerLock(zk.session(), zk.root, "local@h:/a", "second")
    tenure = first.hold(threading.Event())
    assert tenure is not None and not tenure.ended.is_set()

    got = waiting_for(second, threading.Event())
    wait_for(lambda: second.contenders() == ["first", "second"], "the second to wait", 5)
    time.sleep(0.3)
    assert got == []

    tenure.release()
    wait_for(lambda: got, "the second to hold the lock", 5)
    assert got[0] is not None and second.contenders() == ["second"]


def test_deployers_of_different_owners_do_not_wait_for_each_other(zk):
    stop = threading.Event()
    assert OwnerLock(zk.session(), zk.root, "local@h:/a", "a").hold(stop) is not None
    assert OwnerLock(zk.session(), zk.root, "local@h:/b", "b").hold(stop) is not None


def test_a_deployer_told_to_stop_while_it_waits_stops_waiting(zk):
    OwnerLock(zk.session(), zk.root, "local@h:/a", "first").hold(threading.Event())
    stop = threading.Event()
    got = waiting_for(OwnerLock(zk.session(), zk.root, "local@h:/a", "second"), stop)

    stop.set()

    wait_for(lambda: got, "the wait to end", 5)
    assert got == [None]


def test_a_tenure_ends_with_its_session_and_the_next_deployer_holds_the_lock(zk):
    client = zk.session()
    tenure = OwnerLock(client, zk.root, "local@h:/a", "first").hold(threading.Event())
    got = waiting_for(OwnerLock(zk.session(), zk.root, "local@h:/a", "second"),
                      threading.Event())

    zk.close_session(client)  # the session ends: its lock node goes with it

    wait_for(tenure.ended.is_set, "the first's tenure to end", 5)
    wait_for(lambda: got and got[0] is not None, "the second to hold the lock", 5)


def test_a_tenure_ends_when_its_deployer_is_told_to_stop(zk):
    stop = threading.Event()
    tenure = OwnerLock(zk.session(), zk.root, "local@h:/a", "a").hold(stop)

    stop.set()

    wait_for(tenure.ended.is_set, "the tenure to end", 2)
