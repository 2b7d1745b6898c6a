"""Worker liveness on ZooKeeper: an ephemeral node per live worker.

A worker announces itself by creating ``<root>/workers/<id>`` as an ephemeral
node: ZooKeeper deletes it when the worker's session ends, whether the worker
closed its client or died and the session timed out. The seed's heartbeat
counters and a checker averaging them are not needed for this; ``alive()`` is
one listing.

A session that expires and is replaced (kazoo reconnects with a new one) has
lost its node: the worker must announce again. Announcing twice in the same
session is harmless; announcing an id that another live session holds raises
:class:`WorkerAlreadyAnnounced`.
"""

from __future__ import annotations

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError
from kazoo.retry import ForceRetryError

from imgproc.adapters.zk.client import WorkerAlreadyAnnounced, zk_errors
from imgproc.adapters.zk.layout import DEFAULT_ROOT, Layout


class ZkLiveness:
    """:class:`~imgproc.core.ports.Liveness` tied to the session of ``client``."""

    def __init__(self, client: KazooClient, root: str = DEFAULT_ROOT) -> None:
        self._client = client
        self._layout = Layout(root)

    def announce(self, worker_id: str) -> None:
        """Mark ``worker_id`` alive for as long as this client's session lasts."""
        path = self._layout.worker(worker_id)

        def claim() -> None:
            try:
                self._client.create(path, ephemeral=True, makepath=True)
            except NodeExistsError as exc:
                stat = self._client.exists(path)
                if stat is None:
                    raise ForceRetryError(f"{path} vanished while announcing") from exc
                if stat.ephemeralOwner != self._session_id():
                    raise WorkerAlreadyAnnounced(worker_id) from exc

        with zk_errors(f"announce worker {worker_id}"):
            self._client.retry(claim)

    def alive(self) -> set[str]:
        """The ids of workers whose session is live now."""
        with zk_errors("list live workers"):
            try:
                return set(self._client.retry(self._client.get_children, self._layout.workers))
            except NoNodeError:
                return set()

    def _session_id(self) -> int | None:
        client_id = self._client.client_id
        return client_id[0] if client_id else None
