"""In-memory twins of the ZooKeeper adapters: registry, liveness, config, scaler status.

They behave like :mod:`imgproc.adapters.zk` (the same contract tests run
against both): records are stored as the same JSON bytes through the same
codec, ids are checked as node names, errors are the same types. Each twin is
one shared "server" that many threads may use at once; a lock makes every
change atomic, so the compare-and-set races of ZooKeeper become simply
serialised calls.

Ephemeral nodes are tied to a :class:`MemorySession`: a worker's announcement
lasts until its session is closed, as a ZooKeeper session's does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from imgproc.adapters.zk.client import (
    MachineExists,
    RegistryUnavailable,
    WorkerAlreadyAnnounced,
)
from imgproc.adapters.zk.config import decode_config, decode_status
from imgproc.adapters.zk.layout import (
    DEFAULT_ROOT,
    Layout,
    MachineListing,
    apply_update,
    decode_machine,
    encode_machine,
)
from imgproc.core.errors import UnknownMachine
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import ScalerConfig, ScalerStatus

log = logging.getLogger(__name__)


class MemoryMachineRegistry:
    """:class:`~imgproc.core.ports.MachineRegistry` in a dict guarded by a lock."""

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self._layout = Layout(root)
        self._listing = MachineListing(self._layout)
        self._lock = threading.Lock()
        self._records: dict[str, bytes] = {}  # by node name, as ZooKeeper's children

    def create(self, machine: Machine) -> None:
        self._layout.machine(machine.id)
        data = encode_machine(machine)
        with self._lock:
            if machine.id in self._records:
                raise MachineExists(machine.id)
            self._records[machine.id] = data

    def get(self, machine_id: str) -> Machine:
        path = self._layout.machine(machine_id)
        with self._lock:
            data = self._records.get(machine_id)
        if data is None:
            raise UnknownMachine(machine_id)
        return decode_machine(path, data)

    def transition(self, machine_id: str, state: MachineState, at: float,
                   reason: str | None = None) -> Machine:
        return self._change(machine_id, lambda m: m.moved_to(state, at, reason))

    def update(self, machine_id: str, **fields: object) -> Machine:
        return self._change(machine_id, lambda m: apply_update(m, fields))

    def delete(self, machine_id: str) -> None:
        self._layout.machine(machine_id)
        with self._lock:
            if self._records.pop(machine_id, None) is None:
                raise UnknownMachine(machine_id)

    def machines(self) -> list[Machine]:
        return [m for m in self.all_machines() if m.state is not MachineState.DESTROYED]

    def all_machines(self) -> list[Machine]:
        with self._lock:
            records = sorted(self._records.items())
        listed = (self._listing.machine(name, data) for name, data in records)
        return [machine for machine in listed if machine is not None]

    def _change(self, machine_id: str, change: Callable[[Machine], Machine]) -> Machine:
        path = self._layout.machine(machine_id)
        with self._lock:
            data = self._records.get(machine_id)
            if data is None:
                raise UnknownMachine(machine_id)
            changed = encode_machine(change(decode_machine(path, data)))
            self._records[machine_id] = changed
        return decode_machine(path, changed)


class MemorySession:
    """Stands for one client's ZooKeeper session: closing it drops its announcements."""

    def __init__(self) -> None:
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()


class MemoryWorkerBoard:
    """The shared ``workers`` folder: which session announced which worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: dict[str, MemorySession] = {}

    def claim(self, worker_id: str, session: MemorySession) -> None:
        Layout().worker(worker_id)
        with self._lock:
            if session.closed:
                raise RegistryUnavailable(f"announce worker {worker_id}", "the session is closed")
            holder = self._holders.get(worker_id)
            if holder is not None and holder is not session and not holder.closed:
                raise WorkerAlreadyAnnounced(worker_id)
            self._holders[worker_id] = session

    def alive(self) -> set[str]:
        with self._lock:
            return {w for w, session in self._holders.items() if not session.closed}


class MemoryLiveness:
    """:class:`~imgproc.core.ports.Liveness` of one session on a shared board."""

    def __init__(self, board: MemoryWorkerBoard, session: MemorySession) -> None:
        self._board = board
        self._session = session

    def announce(self, worker_id: str) -> None:
        self._board.claim(worker_id, self._session)

    def alive(self) -> set[str]:
        return self._board.alive()


class MemoryConfigStore:
    """:class:`~imgproc.core.ports.ConfigStore`; callbacks run on the writer's thread, in order."""

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self._path = Layout(root).scaler_config
        self._delivery = threading.RLock()
        self._data: bytes | None = None
        self._callbacks: list[Callable[[ScalerConfig | None], None]] = []

    def read(self) -> ScalerConfig | None:
        with self._delivery:
            return decode_config(self._path, self._data)

    def write(self, config: ScalerConfig) -> None:
        self._replace(config.encode())

    def delete(self) -> None:
        self._replace(None)

    def watch(self, callback: Callable[[ScalerConfig | None], None]) -> None:
        with self._delivery:
            self._callbacks.append(callback)
            _call(callback, decode_config(self._path, self._data))

    def _replace(self, data: bytes | None) -> None:
        with self._delivery:
            self._data = data
            config = decode_config(self._path, data)
            for callback in list(self._callbacks):
                _call(callback, config)


class MemoryScalerStatus:
    """The twin of :class:`~imgproc.adapters.zk.config.ZkScalerStatus`."""

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self._path = Layout(root).scaler_status
        self._lock = threading.Lock()
        self._data: bytes | None = None

    def read(self) -> ScalerStatus | None:
        with self._lock:
            return decode_status(self._path, self._data)

    def write(self, status: ScalerStatus) -> None:
        with self._lock:
            self._data = status.model_dump_json().encode()


def _call(callback: Callable[[ScalerConfig | None], None], config: ScalerConfig | None) -> None:
    try:
        callback(config)
    except Exception:
        log.exception("scaler config callback failed")
