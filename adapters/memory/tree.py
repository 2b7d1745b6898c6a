"""An in-memory stand-in for ZooKeeper, and the mirror that fills it from a simulation.

The console's ZooKeeper browser reads a :class:`~imgproc.tui.model.TreeSource`.
On the live cluster that is the real tree; on the simulator it is a
:class:`MemoryTree` that :class:`RunMirror` keeps equal to what ZooKeeper would
hold for the run (the same paths and the same JSON records), so the browser
works, and can be tested, without a server.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from imgproc.adapters.zk.client import RegistryError
from imgproc.adapters.zk.layout import DEFAULT_ROOT, Layout, encode_machine
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import ScalerConfig, ScalerStatus
from imgproc.core.ports import NodeStat

Watcher = Callable[[str], None]
#: Machines whose worker process holds its ephemeral node.
WORKER_ALIVE = frozenset({MachineState.RUNNING, MachineState.DRAINING})


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


@dataclass
class _Node:
    data: bytes
    ctime: float
    mtime: float
    owner: int = 0
    version: int = 0
    children: set[str] = field(default_factory=set)


class MemoryTree:
    """Implements ``TreeSource`` in memory; thread-safe, watches are persistent.

    As with the live source, a watch on ``path`` fires when ``path`` or one of
    its children is created, changed or deleted. Changes made inside
    :meth:`batch` fire each watch once, at the end.
    """

    def __init__(self, root: str = DEFAULT_ROOT, clock: Callable[[], float] = lambda: 0.0) -> None:
        self.root = root
        self._clock = clock
        self._nodes: dict[str, _Node] = {root: _Node(b"", clock(), clock())}
        self._watchers: dict[str, list[Watcher]] = {}
        self._lock = threading.RLock()
        self._pending: set[str] | None = None
        self.deleted: set[str] = set()

    # ---- TreeSource ----------------------------------------------------------

    def children(self, path: str) -> list[str]:
        with self._lock:
            node = self._nodes.get(path)
            return sorted(node.children) if node else []

    def get(self, path: str) -> tuple[bytes, NodeStat]:
        with self._lock:
            node = self._nodes.get(path)
            if node is None:
                raise RegistryError(f"read {path}", "no such node")
            return node.data, NodeStat(node.version, node.ctime, node.mtime, node.owner,
                                       len(node.children))

    def delete(self, path: str) -> None:
        """Delete ``path`` and its subtree (only the children, for the root), as an operator
        would; the mirror does not write these paths again unless told to."""
        with self.batch(), self._lock:
            gone = self._remove(path, keep=path == self.root)
            self.deleted.update(gone)

    def watch(self, path: str, callback: Watcher) -> None:
        with self._lock:
            self._watchers.setdefault(path, []).append(callback)

    def paths(self) -> list[str]:
        with self._lock:
            return sorted(self._nodes)

    # ---- writers -------------------------------------------------------------

    def exists(self, path: str) -> bool:
        with self._lock:
            return path in self._nodes

    def put(self, path: str, data: bytes, owner: int = 0) -> None:
        """Create ``path`` (and missing parents) or replace its data if it differs."""
        with self._lock:
            node = self._nodes.get(path)
            if node is None:
                self._create(path, data, owner)
            elif node.data != data:
                node.data, node.mtime = data, self._clock()
                node.version += 1
                self._changed(path)

    def remove(self, path: str) -> None:
        """Remove ``path`` and its subtree, if there (a component's own delete)."""
        with self._lock:
            self._remove(path, keep=False)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group changes: each affected watch fires once, after the block."""
        with self._lock:
            outer = self._pending is None
            if outer:
                self._pending = set()
        try:
            yield
        finally:
            if outer:
                with self._lock:
                    fired, self._pending = self._pending or set(), None
                self._fire(fired)

    # ---- internals -----------------------------------------------------------

    def _create(self, path: str, data: bytes, owner: int) -> None:
        parent = parent_of(path)
        if parent not in self._nodes:
            self._create(parent, b"", 0)
        now = self._clock()
        self._nodes[path] = _Node(data, now, now, owner)
        self._nodes[parent].children.add(path.rsplit("/", 1)[1])
        self._changed(path)

    def _remove(self, path: str, keep: bool) -> list[str]:
        node = self._nodes.get(path)
        if node is None:
            return []
        gone: list[str] = []
        for name in list(node.children):
            gone.extend(self._remove(f"{path.rstrip('/')}/{name}", keep=False))
        if not keep:
            del self._nodes[path]
            self._nodes[parent_of(path)].children.discard(path.rsplit("/", 1)[1])
            gone.append(path)
        self._changed(path)
        return gone

    def _changed(self, path: str) -> None:
        touched = {path, parent_of(path)} & self._watchers.keys()
        if self._pending is not None:
            self._pending |= touched
        else:
            self._fire(touched)

    def _fire(self, paths: Iterable[str]) -> None:
        with self._lock:
            calls = [(p, cb) for p in paths for cb in self._watchers.get(p, ())]
        for path, callback in calls:
            callback(path)


def session_of(machine_id: str) -> int:
    """A stable, non-zero stand-in for the ZooKeeper session of a machine's worker."""
    return 0x1_0000_0000 | zlib.crc32(machine_id.encode())


class RunMirror:
    """Writes into a :class:`MemoryTree` what ZooKeeper would hold for a run.

    ``<root>/machines/<id>`` for every machine not destroyed, ``<root>/workers/<id>``
    (ephemeral) for those whose worker is alive, ``<root>/config/scaler`` and
    ``<root>/scaler/status``. A node the operator deleted stays deleted, except
    the scaler config and status, which a policy switch writes again.
    """

    def __init__(self, tree: MemoryTree) -> None:
        self.tree = tree
        self.layout = Layout(tree.root)
        self._encoded: dict[str, tuple[Machine, bytes]] = {}
        self._written: set[str] = set()

    def sync(self, machines: list[Machine], config: ScalerConfig, status: ScalerStatus,
             rewrite_config: bool = False) -> None:
        """Bring the tree to this state; ``rewrite_config`` after a policy switch."""
        tree, layout = self.tree, self.layout
        wanted: dict[str, tuple[bytes, int]] = {}
        for machine in machines:
            wanted[layout.machine(machine.id)] = (self._encode(machine), 0)
            if machine.state in WORKER_ALIVE:
                wanted[layout.worker(machine.id)] = (b"", session_of(machine.id))
        wanted[layout.scaler_config] = (config.encode(), 0)
        wanted[layout.scaler_status] = (status.model_dump_json().encode(), 0)
        if rewrite_config:
            tree.deleted -= {layout.scaler_config, layout.scaler_status}
        with tree.batch():
            for path in self._written - wanted.keys():
                tree.remove(path)
            for path, (data, owner) in wanted.items():
                if path not in tree.deleted:
                    tree.put(path, data, owner)
        self._written = set(wanted)
        live = {m.id for m in machines}
        self._encoded = {k: v for k, v in self._encoded.items() if k in live}

    def _encode(self, machine: Machine) -> bytes:
        cached = self._encoded.get(machine.id)
        if cached is not None and cached[0] == machine:
            return cached[1]
        data = encode_machine(machine)
        self._encoded[machine.id] = (machine, data)
        return data
