"""The machine registry on ZooKeeper: one node per machine, changed by compare-and-set.

The seed moved a machine between ``/nodes/<state>/`` folders with a delete and
a create, two writes that a crash could split. Here a machine is one node,
``<root>/machines/<id>``, and every change is a single conditional ``set``:
read the record and its version, compute the new record (the core's
:func:`~imgproc.core.machines.check_transition` decides if a move is legal),
write it only if the version is unchanged. A concurrent writer makes the write
fail with ``BadVersionError``; the attempt is then re-run from the read, under
kazoo's :class:`KazooRetry`, so the move is re-checked against the state the
other writer left (two clients both moving ``running -> draining``: one wins,
the other gets :class:`IllegalTransition` from ``draining``).

:class:`OwnerLock` lets one deployer at a time act for an owner (one provider's view), in
:class:`Tenure` spells that end with the ZooKeeper session.

Listing ``machines/`` skips (and logs) a node that holds no valid record or whose name
is not a machine id (:class:`~imgproc.adapters.zk.layout.MachineListing`): garbage written
there by anyone must not stop the deployer, the scaler or the console.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    CancelledError,
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    OperationTimeoutError,
)
from kazoo.protocol.states import KazooState
from kazoo.recipe.lock import Lock
from kazoo.retry import ForceRetryError, KazooRetry, RetryFailedError

from imgproc.adapters.zk.client import MachineExists, WriteConflict, zk_errors
from imgproc.adapters.zk.layout import (
    DEFAULT_ROOT,
    Layout,
    MachineListing,
    apply_update,
    decode_machine,
    encode_machine,
)
from imgproc.core.errors import ImgprocError, UnknownMachine
from imgproc.core.machines import Machine, MachineState

log = logging.getLogger(__name__)


class ZkMachineRegistry:
    """:class:`~imgproc.core.ports.MachineRegistry` on a connected :class:`KazooClient`."""

    def __init__(self, client: KazooClient, root: str = DEFAULT_ROOT, *,
                 cas_max_tries: int = 50) -> None:
        self._client = client
        self._layout = Layout(root)
        self._listing = MachineListing(self._layout)
        self._cas_max_tries = cas_max_tries

    def create(self, machine: Machine) -> None:
        """Record a new machine; raises :class:`MachineExists` if the id is taken."""
        path = self._layout.machine(machine.id)
        data = encode_machine(machine)
        with zk_errors(f"create machine {machine.id}"):
            try:
                self._client.retry(self._client.create, path, data, makepath=True)
            except NodeExistsError as exc:
                raise MachineExists(machine.id) from exc

    def get(self, machine_id: str) -> Machine:
        """The machine's record; raises :class:`UnknownMachine`."""
        path = self._layout.machine(machine_id)
        with zk_errors(f"read machine {machine_id}"):
            try:
                data, _ = self._client.retry(self._client.get, path)
            except NoNodeError as exc:
                raise UnknownMachine(machine_id) from exc
        return decode_machine(path, data)

    def transition(self, machine_id: str, state: MachineState, at: float,
                   reason: str | None = None) -> Machine:
        """Move to ``state`` in one conditional write; raises :class:`IllegalTransition`."""
        return self._compare_and_set(
            machine_id, f"move machine {machine_id} to {state.value}",
            lambda machine: machine.moved_to(state, at, reason),
        )

    def update(self, machine_id: str, **fields: object) -> Machine:
        """Change details (address, current_job, jobs_done, reason, details) atomically, or
        claim the machine (``owner``: :meth:`~imgproc.core.machines.Machine.claimed_by`)."""
        return self._compare_and_set(
            machine_id, f"update machine {machine_id}",
            lambda machine: apply_update(machine, fields),
        )

    def delete(self, machine_id: str) -> None:
        """Forget the machine; raises :class:`UnknownMachine` if it is not recorded."""
        path = self._layout.machine(machine_id)
        with zk_errors(f"delete machine {machine_id}"):
            try:
                self._client.retry(self._client.delete, path)
            except NoNodeError as exc:
                raise UnknownMachine(machine_id) from exc

    def machines(self) -> list[Machine]:
        """Every machine not yet destroyed, by id."""
        return [m for m in self.all_machines() if m.state is not MachineState.DESTROYED]

    def all_machines(self) -> list[Machine]:
        """Every record, destroyed and failed ones included, by id; a node that is not a
        machine's record is logged and skipped."""
        machines = self._layout.machines
        with zk_errors("list machines"):
            try:
                names = self._client.retry(self._client.get_children, machines)
            except NoNodeError:
                return []
            pending = {n: self._client.get_async(f"{machines}/{n}") for n in sorted(names)}
            found: list[Machine] = []
            for name, result in pending.items():
                try:
                    data, _ = result.get()
                except NoNodeError:
                    continue
                machine = self._listing.machine(name, data)
                if machine is not None:
                    found.append(machine)
        return found

    def _compare_and_set(self, machine_id: str, action: str,
                         change: Callable[[Machine], Machine]) -> Machine:
        path = self._layout.machine(machine_id)
        seen = _Attempts()

        def attempt() -> Machine:
            try:
                data, stat = self._client.get(path)
            except NoNodeError as exc:
                raise UnknownMachine(machine_id) from exc
            current = decode_machine(path, data)
            if seen.unsure is not None and current == seen.unsure:
                return current
            changed = decode_machine(path, encode_machine(change(current)))
            try:
                self._client.set(path, encode_machine(changed), version=stat.version)
            except BadVersionError as exc:
                seen.conflicts += 1
                raise ForceRetryError(f"{path} changed since version {stat.version}") from exc
            except NoNodeError as exc:
                raise UnknownMachine(machine_id) from exc
            except (ConnectionLoss, OperationTimeoutError):
                seen.unsure = changed
                raise
            return changed

        retry = KazooRetry(max_tries=self._cas_max_tries, delay=0.005, backoff=1.5,
                           max_delay=0.1, max_jitter=0.8)
        with zk_errors(action):
            try:
                return retry(attempt)
            except RetryFailedError as exc:
                if seen.conflicts == 0:
                    raise
                raise WriteConflict(path, seen.conflicts) from exc


@dataclass
class _Attempts:
    """What earlier attempts of one compare-and-set saw.

    ``unsure`` is the record an attempt wrote when the connection dropped before
    the answer came: if the next read finds exactly it, that write landed.
    """

    conflicts: int = 0
    unsure: Machine | None = None


class OwnerLock:
    """At most one active deployer per owner, i.e. per provider's view (kind, host, state
    directory): two deployers sharing one view would each take a machine the other is
    starting, not yet visible, for disappeared. Deployers of different owners act side
    by side, each on its own machines. A kazoo ``Lock`` at ``<root>/deployers/<digest>``,
    whose contenders' data is ``identifier``; held while ``client``'s session lives."""

    def __init__(self, client: KazooClient, root: str, owner: str, identifier: str) -> None:
        self._client = client
        self._path = Layout(root).deployer_lock(owner)
        self._identifier = identifier

    def contenders(self) -> list[str]:
        """The identifiers of the deployers holding or waiting for the lock, holder first."""
        with zk_errors("list the deployer lock's contenders"):
            return list(self._client.Lock(self._path, self._identifier).contenders())

    def hold(self, stop: threading.Event) -> Tenure | None:
        """Wait until this process holds the lock; None if ``stop`` is set first."""
        lock = self._client.Lock(self._path, self._identifier)
        tenure = Tenure(self._client, lock, stop)
        with zk_errors("acquire the deployer lock"):
            try:
                lock.acquire()
            except CancelledError:
                return None
        return tenure


class Tenure:
    """One spell of holding an :class:`OwnerLock`: :attr:`ended` is set once this process
    must stop acting under it, when ``stop`` is set or the session ends (the lock's node
    went with it, and another deployer of the owner may hold the lock now). A session
    merely suspended keeps it: the lock is lost only when the session expires."""

    def __init__(self, client: KazooClient, lock: Lock, stop: threading.Event) -> None:
        self.ended = threading.Event()
        self._lock = lock
        client.add_listener(self._on_state)
        threading.Thread(target=self._end_on, args=(stop,), daemon=True).start()

    def _on_state(self, state: str) -> bool:
        """kazoo's listener; returning True removes it."""
        if state == KazooState.LOST:
            self.ended.set()
        return self.ended.is_set()

    def _end_on(self, stop: threading.Event) -> None:
        while not self.ended.is_set():
            if stop.wait(0.2):
                self.ended.set()
                self._lock.cancel()  # a wait for the lock ends at once

    def release(self) -> None:
        """Give the lock up; its node may be gone with its session already."""
        try:
            with zk_errors("release the deployer lock"):
                self._lock.release()
        except ImgprocError as exc:
            log.warning("%s; it goes with the session", exc)
