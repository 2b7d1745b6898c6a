"""Worker liveness on ZooKeeper: an ephemeral node per live worker.

A worker announces itself by creating ``<root>/workers/<id>`` as an ephemeral
node: ZooKeeper deletes it when the worker's session ends, whether the worker
closed its client or died and the session timed out. The seed's heartbeat
counters and a checker averaging them are not needed for this; ``alive()`` is
one listing.

A session that expires and is replaced (kazoo reconnects with a new one) has
lost its node, so every announced id is announced again each time the client
connects (harmless when the session survived: announcing twice in the same
session is a no-op). Announcing an id that another live session holds raises
:class:`WorkerAlreadyAnnounced`.
"""

from __future__ import annotations

import logging
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError
from kazoo.protocol.states import KazooState
from kazoo.retry import ForceRetryError

from imgproc.adapters.zk.client import WorkerAlreadyAnnounced, zk_errors
from imgproc.adapters.zk.layout import DEFAULT_ROOT, Layout
from imgproc.core.errors import ImgprocError

log = logging.getLogger(__name__)


class ZkLiveness:
    """:class:`~imgproc.core.ports.Liveness` tied to the sessions of ``client``."""

    def __init__(self, client: KazooClient, root: str = DEFAULT_ROOT) -> None:
        self._client = client
        self._layout = Layout(root)
        self._guard = threading.Lock()
        self._announced: set[str] = set()

    def announce(self, worker_id: str) -> None:
        """Mark ``worker_id`` alive for as long as this client lives, across sessions."""
        self._claim(worker_id)
        with self._guard:
            first = not self._announced
            self._announced.add(worker_id)
        if first:
            self._client.add_listener(self._on_session_change)

    def alive(self) -> set[str]:
        """The ids of workers whose session is live now."""
        with zk_errors("list live workers"):
            try:
                return set(self._client.retry(self._client.get_children, self._layout.workers))
            except NoNodeError:
                return set()

    def _claim(self, worker_id: str) -> bool:
        """Create the worker's node; False if this session already holds it."""
        path = self._layout.worker(worker_id)

        def claim() -> bool:
            try:
                self._client.create(path, ephemeral=True, makepath=True)
            except NodeExistsError as exc:
                stat = self._client.exists(path)
                if stat is None:
                    raise ForceRetryError(f"{path} vanished while announcing") from exc
                if stat.ephemeralOwner != self._session_id():
                    raise WorkerAlreadyAnnounced(worker_id) from exc
                return False
            return True

        with zk_errors(f"announce worker {worker_id}"):
            created: bool = self._client.retry(claim)
        return created

    def _on_session_change(self, state: KazooState) -> None:
        """On kazoo's event thread, which must not wait for ZooKeeper: the work is spawned."""
        if state == KazooState.CONNECTED:
            self._client.handler.spawn(self._announce_again)

    def _announce_again(self) -> None:
        with self._guard:
            announced = sorted(self._announced)
        for worker_id in announced:
            try:
                if self._claim(worker_id):
                    log.info("worker %s announced again, in a new session", worker_id)
            except ImgprocError as exc:  # the next connection tries again
                log.warning("could not announce worker %s again: %s", worker_id, exc)

    def _session_id(self) -> int | None:
        client_id = self._client.client_id
        return client_id[0] if client_id else None
