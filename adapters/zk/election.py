"""Electing the one active scaler, with kazoo's ``Election`` recipe.

Several scaler processes may run; each contends at ``<root>/election/scaler``
and only the elected one runs its loop. When the leader's loop returns, or its
session ends, the next contender is elected. Usage::

    election = ScalerElection(client, root, identifier="scaler@host-1")
    contend_until(election, lambda: loop_until(election.wait_stop), stop)   # blocks

The leader's loop must watch :meth:`ScalerElection.wait_stop` (or
:meth:`should_stop`): it is set by :meth:`cancel`, and when the session is
suspended or lost while leading, since another contender may then be elected.
Stopping on a mere suspension is deliberate: two active scalers are worse
than none for a few seconds. A suspension or an expiry never ends the
contender, though: :func:`contend_until` contends again as soon as leadership
ends, and waits out a ZooKeeper that cannot be reached. A contender that is
waiting needs nothing of the kind: kazoo's lock keeps its place across a
suspension and makes a new node after an expiry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential,
)

from imgproc.adapters.zk.client import RegistryUnavailable, zk_errors
from imgproc.adapters.zk.layout import DEFAULT_ROOT, Layout
from imgproc.core.ports import Election

log = logging.getLogger(__name__)
LOST = (KazooState.SUSPENDED, KazooState.LOST)


class ScalerElection:
    """One contender for scaler leadership, on the session of ``client``."""

    def __init__(self, client: KazooClient, root: str = DEFAULT_ROOT,
                 identifier: str = "") -> None:
        self.identifier = identifier
        self._client = client
        self._election = client.Election(Layout(root).scaler_election, identifier)
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._cancelled = False
        self._leading = False

    def run(self, func: Callable[[], None]) -> bool:
        """Block until elected, then run ``func``; False if cancelled before being elected.

        Leadership ends when ``func`` returns or raises (the exception propagates). Raises
        :class:`RegistryUnavailable` if ZooKeeper kept failing (the node could not be
        created or given back) or the client was closed. May be called again to contend
        again, once it returned.
        """
        with self._guard:
            if self._cancelled:
                return False
            self._stop.clear()
        elected = threading.Event()

        def lead() -> None:
            with self._guard:
                self._leading = True
                if self._client.state in LOST:  # lost between the election and now
                    self._stop.set()
            elected.set()
            if not self.should_stop():
                func()

        self._client.add_listener(self._on_session_change)
        try:
            with zk_errors(f"take part in the scaler election as {self.identifier!r}"):
                self._release_leftover()
                self._election.run(lead)
        finally:
            self._client.remove_listener(self._on_session_change)
            with self._guard:
                self._leading = False
        return elected.is_set()

    def cancel(self) -> None:
        """Stop contending (``run`` returns False) or, if leading, ask ``func`` to stop."""
        with self._guard:
            self._cancelled = True
            self._stop.set()
        self._election.cancel()

    def should_stop(self) -> bool:
        """True once the leader should return from ``func``."""
        return self._stop.is_set()

    def wait_stop(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a request to stop; True if one came."""
        return self._stop.wait(timeout_s)

    def contenders(self) -> list[str]:
        """Identifiers of every contender, the leader first."""
        with zk_errors("list scaler contenders"):
            return list(self._election.contenders())

    def _release_leftover(self) -> None:
        """Give back a lock whose release failed at the end of the last term: contending
        with it still held would wait behind our own node for as long as the session lives."""
        lock = self._election.lock
        if lock.is_acquired:
            lock.release()

    def _on_session_change(self, state: KazooState) -> None:
        with self._guard:
            if self._leading and state in LOST:
                self._stop.set()


def contend_until(election: Election, lead: Callable[[], None], stop: threading.Event,
                  max_wait_s: float = 5.0) -> None:
    """Contend and run ``lead`` each time elected, contending again whenever leadership
    ends, until ``stop`` is set or the election is cancelled. A ZooKeeper that cannot be
    reached (:class:`RegistryUnavailable`) is waited out, backing off up to ``max_wait_s``."""

    def pause(seconds: float) -> None:
        stop.wait(seconds)

    retrying = Retrying(
        retry=retry_if_exception_type(RegistryUnavailable),
        wait=wait_exponential(multiplier=0.2, max=max_wait_s),
        stop=stop_when_event_set(stop),
        sleep=pause,
        before_sleep=_log_retry,
        retry_error_callback=lambda _state: False,  # stopped while ZooKeeper was away
    )
    while not stop.is_set() and retrying(election.run, lead):
        if not stop.is_set():
            log.info("leadership ended; contending again")


def _log_retry(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome else None
    wait_s = state.next_action.sleep if state.next_action else 0.0
    log.warning("cannot contend: %s; trying again in %.1f s", failure, wait_s)
