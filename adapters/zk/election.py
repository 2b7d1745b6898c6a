"""Electing the one active scaler, with kazoo's ``Election`` recipe.

Several scaler processes may run; each contends at ``<root>/election/scaler``
and only the elected one runs its loop. When the leader's loop returns, or its
session ends, the next contender is elected. Usage::

    election = ScalerElection(client, root, identifier="scaler@host-1")
    election.run(lambda: loop_until(election.wait_stop))   # blocks

The leader's loop must watch :meth:`ScalerElection.wait_stop` (or
:meth:`should_stop`): it is set by :meth:`cancel`, and when the session is
suspended or lost while leading, since another contender may then be elected.
Stopping on a mere suspension is deliberate: two active scalers are worse
than none for a few seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from imgproc.adapters.zk.client import zk_errors
from imgproc.adapters.zk.layout import DEFAULT_ROOT, Layout


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

        Leadership ends when ``func`` returns or raises (the exception propagates).
        Raises :class:`RegistryUnavailable` if the session closes while waiting or
        leading: the caller then needs a new client to contend again.
        """
        with self._guard:
            if self._cancelled:
                return False
            self._stop.clear()
        elected = threading.Event()

        def lead() -> None:
            with self._guard:
                self._leading = True
            elected.set()
            if not self.should_stop():
                func()

        self._client.add_listener(self._on_session_change)
        try:
            with zk_errors(f"take part in the scaler election as {self.identifier!r}"):
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

    def _on_session_change(self, state: KazooState) -> None:
        with self._guard:
            if self._leading and state in (KazooState.SUSPENDED, KazooState.LOST):
                self._stop.set()
