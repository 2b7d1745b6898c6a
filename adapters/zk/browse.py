"""The ZooKeeper tree as the console's browser reads it, kept current by kazoo's
``TreeCache`` recipe: every read is served from memory, and a change under the
root calls the watchers, so the browser never polls ZooKeeper."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.recipe.cache import TreeCache, TreeEvent

from imgproc.adapters.zk.client import zk_errors
from imgproc.adapters.zk.tree import clear
from imgproc.core.ports import NodeStat

log = logging.getLogger(__name__)
CHANGES = (TreeEvent.NODE_ADDED, TreeEvent.NODE_REMOVED, TreeEvent.NODE_UPDATED)


class ZkTreeSource:
    """Implements the console's ``TreeSource`` over a live ZooKeeper subtree."""

    def __init__(self, client: KazooClient, root: str) -> None:
        self.root = root
        self._client = client
        self._cache = TreeCache(client, root)
        self._lock = threading.Lock()
        self._watchers: list[tuple[str, Callable[[str], None]]] = []
        self._cache.listen(self._on_event)
        self._cache.start()

    def children(self, path: str) -> list[str]:
        return sorted(self._cache.get_children(path) or ())

    def get(self, path: str) -> tuple[bytes, NodeStat]:
        node = self._cache.get_data(path)
        if node is None:
            with zk_errors(f"read {path}"):
                data, stat = self._client.get(path)
        else:
            data, stat = node.data or b"", node.stat
        return data, NodeStat(stat.version, stat.ctime / 1000, stat.mtime / 1000,
                              stat.ephemeralOwner, stat.numChildren)

    def delete(self, path: str) -> None:
        if path == self.root:
            clear(self._client, path)
            return
        with zk_errors(f"delete {path}"), suppress(NoNodeError):
            self._client.delete(path, recursive=True)

    def watch(self, path: str, callback: Callable[[str], None]) -> None:
        with self._lock:
            self._watchers.append((path, callback))

    def paths(self) -> list[str]:
        found, stack = [], [self.root]
        while stack:
            path = stack.pop()
            found.append(path)
            prefix = path.rstrip("/")
            stack.extend(f"{prefix}/{c}" for c in self.children(path))
        return sorted(found)

    def _on_event(self, event) -> None:
        if event.event_type not in CHANGES or event.event_data is None:
            return
        path = event.event_data.path
        parent = path.rsplit("/", 1)[0] or "/"
        with self._lock:
            watchers = list(self._watchers)
        for watched, callback in watchers:
            if watched in (path, parent):
                try:
                    callback(watched)
                except Exception:  # a broken watcher must not stop the cache
                    log.exception("tree watcher for %s failed", watched)

    def close(self) -> None:
        self._cache.close()
