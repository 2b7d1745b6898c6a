"""Worker liveness: an announcement lasts exactly as long as the announcing session."""

from __future__ import annotations

import pytest
from polling import wait_for

from imgproc.adapters.zk.client import RegistryUnavailable, WorkerAlreadyAnnounced
from imgproc.adapters.zk.layout import BadNodeName


def test_nobody_is_alive_before_anyone_announces(backend):
    assert backend.liveness(backend.session()).alive() == set()


def test_announced_workers_are_seen_alive_by_every_session(backend):
    one, two, watcher = backend.session(), backend.session(), backend.session()
    backend.liveness(one).announce("w1")
    backend.liveness(two).announce("w2")
    assert backend.liveness(watcher).alive() == {"w1", "w2"}


def test_a_worker_disappears_when_its_session_closes(backend):
    worker, watcher = backend.session(), backend.session()
    backend.liveness(worker).announce("w1")
    view = backend.liveness(watcher)
    assert view.alive() == {"w1"}

    backend.close_session(worker)

    wait_for(lambda: view.alive() == set(), "w1 gone after its session closed")


def test_announcing_twice_in_the_same_session_is_harmless(backend):
    session = backend.session()
    liveness = backend.liveness(session)
    liveness.announce("w1")
    liveness.announce("w1")
    assert liveness.alive() == {"w1"}


def test_an_id_held_by_another_live_session_cannot_be_announced(backend):
    first, second = backend.session(), backend.session()
    backend.liveness(first).announce("w1")
    with pytest.raises(WorkerAlreadyAnnounced, match="w1"):
        backend.liveness(second).announce("w1")


def test_an_id_can_be_announced_again_once_its_holder_is_gone(backend):
    first, second = backend.session(), backend.session()
    backend.liveness(first).announce("w1")
    backend.close_session(first)
    backend.liveness(second).announce("w1")
    backend.close_session(second)
    watcher = backend.liveness(backend.session())
    wait_for(lambda: watcher.alive() == set(), "w1 gone with its second holder")


def test_announcing_on_a_closed_session_raises_registry_unavailable(backend):
    session = backend.session()
    backend.close_session(session)
    with pytest.raises(RegistryUnavailable, match="announce worker w1"):
        backend.liveness(session).announce("w1")


def test_worker_ids_that_cannot_be_node_names_are_refused(backend):
    with pytest.raises(BadNodeName):
        backend.liveness(backend.session()).announce("a/b")
