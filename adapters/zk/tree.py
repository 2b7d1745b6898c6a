"""Reading and clearing a whole subtree, for ``imgproc zk dump`` and ``imgproc zk clear``.

The seed had console commands that dumped the tree and cleared it after a
confirmation; these are their building blocks. :func:`walk` only reads;
:func:`clear` refuses the tree's root and ZooKeeper's own ``/zookeeper``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import ZnodeStat

from imgproc.adapters.zk.client import zk_errors
from imgproc.core.errors import ConfigurationError


@dataclass(frozen=True)
class Node:
    """One node as read: its path, data and stat (``stat.ephemeralOwner`` != 0: ephemeral)."""

    path: str
    data: bytes
    stat: ZnodeStat

    @property
    def ephemeral(self) -> bool:
        return bool(self.stat.ephemeralOwner != 0)


def walk(client: KazooClient, root: str) -> Iterator[Node]:
    """Every node under ``root`` (itself first), depth first, children by name.

    Nodes deleted while walking are skipped; a missing ``root`` yields nothing.
    """
    with zk_errors(f"read the tree under {root}"):
        yield from _walk(client, root)


def _walk(client: KazooClient, path: str) -> Iterator[Node]:
    try:
        data, stat = client.retry(client.get, path)
        children = client.retry(client.get_children, path)
    except NoNodeError:
        return
    yield Node(path, data, stat)
    prefix = path.rstrip("/")
    for child in sorted(children):
        yield from _walk(client, f"{prefix}/{child}")


def clear(client: KazooClient, root: str) -> int:
    """Delete ``root`` and everything under it; returns how many nodes there were.

    Raises :class:`ConfigurationError` for ``/`` or anything under ``/zookeeper``.
    """
    top = root.rstrip("/")
    ours = root.startswith("/") and top not in ("", "/zookeeper")
    if not ours or top.startswith("/zookeeper/"):
        raise ConfigurationError(f"refusing to clear {root!r}: not a subtree of ours")
    count = sum(1 for _ in walk(client, root))
    with zk_errors(f"clear the tree under {root}"), suppress(NoNodeError):
        client.retry(client.delete, root, recursive=True)
    return count
