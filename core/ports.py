"""The ports through which the scaler observes and acts.

The simulator implements them in virtual time; the adapters implement them on
RabbitMQ, ZooKeeper and a provider. A policy sees neither: it is handed an
:class:`~imgproc.core.observation.Observation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import (
    DeployerCommand,
    JobMessage,
    ResultMessage,
    ScalerConfig,
    ScalerStatus,
    StateReport,
)
from imgproc.core.observation import QueueStats


class QueueProbe(Protocol):
    """Reads the job queue's depth and counters."""

    def stats(self) -> QueueStats:
        """Depth (ready, in flight) now and cumulative counters."""
        ...


class MachineView(Protocol):
    """Reads the registry of machines."""

    def machines(self) -> list[Machine]:
        """Every machine not yet destroyed."""
        ...


class Fleet(Protocol):
    """Asks for machines and gives them back."""

    def request_machine(self) -> str:
        """Ask for one more worker machine; returns its id (state preparing)."""
        ...

    def release_machine(self, machine_id: str) -> None:
        """Give a machine back: drained first if it is busy, never killed mid-job."""
        ...


# ---- live system ports (RabbitMQ, ZooKeeper and providers behind them) ----------


class Delivery(Protocol):
    """One message taken from a queue, to be settled exactly once."""

    body: bytes
    redelivered: bool

    def ack(self) -> None:
        """Done with it: the broker forgets it."""
        ...

    def dead_letter(self, reason: str) -> None:
        """Cannot be handled, ever: move it to the dead-letter queue with ``reason``."""
        ...


class JobPublisher(Protocol):
    """Puts jobs on the jobs queue, persistent and confirmed by the broker."""

    def publish(self, job: JobMessage) -> None:
        """Return only once the broker has confirmed the job is stored."""
        ...

    def close(self) -> None: ...


class JobSource(Protocol):
    """Hands out jobs one at a time (prefetch 1) to a worker."""

    def next_delivery(self, timeout_s: float) -> Delivery | None:
        """The next job, or None if none arrived within ``timeout_s``."""
        ...

    def keep_alive(self) -> None:
        """Service the connection (heartbeats) while a job is worked on, taking no job:
        called about every second from the thread that took the delivery."""
        ...

    def close(self) -> None: ...


class ResultSink(Protocol):
    """Publishes job results for whoever watches."""

    def publish_result(self, result: ResultMessage) -> None:
        """Return once the broker has confirmed the result."""
        ...

    def reply(self, queue: str, result: ResultMessage) -> None:
        """Send ``result`` to a client's reply queue too; a queue that is gone (its client
        left) is not an error: the result is kept all the same."""
        ...

    def keep_alive(self) -> None:
        """Service the connection (heartbeats) while a job is worked on, as
        :meth:`JobSource.keep_alive` does: the result goes out on it at the job's end."""
        ...

    def close(self) -> None: ...


class ResultFeed(Protocol):
    """Receives job results (the scaler, the console, a replay)."""

    def poll_results(self, timeout_s: float) -> list[ResultMessage]:
        """Results that arrived since the last poll, waiting up to ``timeout_s`` for one."""
        ...

    def close(self) -> None: ...


class ReadyCount(Protocol):
    """Reads how many jobs wait in the jobs queue (not yet delivered)."""

    def ready(self) -> int: ...


class CommandBus(Protocol):
    """The deployer's queue of commands."""

    def send(self, command: DeployerCommand) -> None:
        """Confirmed publish of one command."""
        ...

    def next_command(self, timeout_s: float) -> Delivery | None:
        """The next command delivery (body: a DeployerCommand), or None."""
        ...

    def send_report(self, report: StateReport) -> None:
        """Confirmed publish of one state report (the deployer's)."""
        ...

    def next_report(self, timeout_s: float) -> Delivery | None:
        """The next state report delivery (body: a StateReport), or None."""
        ...

    def close(self) -> None: ...


class MachineRegistry(MachineView, Protocol):
    """Where machines' states and details are recorded (ZooKeeper live)."""

    def create(self, machine: Machine) -> None:
        """Record a new machine; fails if the id exists."""
        ...

    def get(self, machine_id: str) -> Machine:
        """The machine's record; raises UnknownMachine."""
        ...

    def transition(self, machine_id: str, state: MachineState, at: float,
                   reason: str | None = None) -> Machine:
        """Move to ``state`` in one atomic step; raises IllegalTransition."""
        ...

    def update(self, machine_id: str, **fields: object) -> Machine:
        """Change details (address, current_job, jobs_done, details) atomically."""
        ...

    def delete(self, machine_id: str) -> None: ...

    def all_machines(self) -> list[Machine]:
        """Every record, destroyed and failed ones included."""
        ...


class Liveness(Protocol):
    """Which workers are alive right now (ephemeral nodes live)."""

    def announce(self, worker_id: str) -> None:
        """Mark this process's worker alive until it exits or its session ends."""
        ...

    def alive(self) -> set[str]: ...


class ConfigStore(Protocol):
    """The scaler's live configuration."""

    def read(self) -> ScalerConfig | None: ...

    def write(self, config: ScalerConfig) -> None: ...

    def watch(self, callback: Callable[[ScalerConfig | None], None]) -> None:
        """Call ``callback`` now and on every change."""
        ...


class StatusStore(Protocol):
    """What the active scaler applied, for operators to read."""

    def read(self) -> ScalerStatus | None: ...

    def write(self, status: ScalerStatus) -> None: ...


class Election(Protocol):
    """One leader among the scalers (ZooKeeper's election recipe live)."""

    def run(self, lead: Callable[[], None]) -> bool:
        """Wait to be elected, then call ``lead``; False if cancelled first."""
        ...

    def cancel(self) -> None: ...

    def should_stop(self) -> bool:
        """Whether leadership is lost or given up."""
        ...

    def wait_stop(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s``; True if leadership ended meanwhile."""
        ...


class Component(Protocol):
    """One of the system's long-running parts (deployer, scaler) as an operator runs it:
    a child process live, an in-process stand-in on in-memory adapters."""

    name: str

    @property
    def lines(self) -> Sequence[str]:
        """Its latest output lines."""
        ...

    def start(self) -> None: ...

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Ask it to finish cleanly; returns its exit code if it has one."""
        ...

    def restart(self) -> None: ...

    def state(self) -> str:
        """``running``, ``not started`` or ``exited with code N``."""
        ...


class Provider(Protocol):
    """Starts and stops machines of one kind."""

    name: str

    def start(self, machine_id: str) -> str | None:
        """Start booting a machine; returns its address if known. Raise on failure."""
        ...

    def stop(self, machine_id: str) -> None:
        """Stop it: ask it to finish its job and exit, kill after the drain timeout."""
        ...

    def alive(self) -> set[str]:
        """Ids of machines whose process or VM exists now."""
        ...

    def interrupt_starts(self) -> None:
        """Cut short every start under way (the deployer is stopping); each start then
        fails, and the deployer destroys what it left. A no-op where starts are quick."""
        ...

    def close(self) -> None:
        """Release what the provider holds (relays, networks); machines stay as they are."""
        ...


@dataclass(frozen=True)
class NodeStat:
    """A ZooKeeper node's stat, as the browser shows it."""

    version: int
    ctime: float
    mtime: float
    ephemeral_owner: int
    children: int


class TreeSource(Protocol):
    """The ZooKeeper tree (or the simulator's stand-in for it), read lazily."""

    root: str

    def children(self, path: str) -> list[str]:
        """Names of the children of ``path`` (not full paths), sorted."""
        ...

    def get(self, path: str) -> tuple[bytes, NodeStat]:
        """The node's data and stat."""
        ...

    def delete(self, path: str) -> None:
        """Delete the node and everything under it."""
        ...

    def watch(self, path: str, callback) -> None:
        """Call ``callback(path)`` (from any thread) when ``path``'s children or data change."""
        ...

    def paths(self) -> list[str]:
        """Every path under the root (for the search)."""
        ...


class TreeMirror(Protocol):
    """A tree kept equal to what ZooKeeper would hold for a simulated run (the console's
    browser on the simulator)."""

    @property
    def tree(self) -> TreeSource: ...

    def sync(self, machines: list[Machine], config: ScalerConfig, status: ScalerStatus,
             rewrite_config: bool = False) -> None:
        """Bring the tree to this state; ``rewrite_config`` after a policy switch."""
        ...


@dataclass
class ControlPlane:
    """What an operator's tools (a live replay, the console) reach the live system by.

    ``publisher`` makes a job publisher with its own connection (a replay submits from
    the thread it likes); ``close`` releases whatever the implementations hold.
    """

    registry: MachineRegistry
    config: ConfigStore
    status: StatusStore
    commands: CommandBus
    ready: ReadyCount
    results: ResultFeed
    tree: TreeSource | None  # the console browses it; a replay needs none
    publisher: Callable[[str], JobPublisher]
    close: Callable[[], None]
    where: str = ""  # where the registry lives, as an operator names it (in errors)


class ObjectStore(Protocol):
    """Objects by key in one place: a bucket, or a local directory (keys are relative paths).

    Errors are :class:`~imgproc.core.storage.StorageError` subclasses naming the object,
    never a credential.
    """

    def read(self, key: str, max_bytes: int) -> bytes:
        """The whole object; :class:`ObjectTooLarge` before downloading one over ``max_bytes``,
        :class:`ObjectMissing` if there is none."""
        ...

    def write(self, key: str, data: bytes, owner: str) -> None:
        """Store ``data`` whole or not at all, as ``owner``'s (a job id);
        :class:`ObjectTaken` if another owner wrote it first."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """In bytes; :class:`ObjectMissing` if there is none."""
        ...

    def close(self) -> None: ...


class ReplyInbox(Protocol):
    """A job client's own queue, where workers send the results of its jobs."""

    queue_name: str

    def poll_results(self, timeout_s: float) -> list[ResultMessage]:
        """Replies that arrived since the last poll, waiting up to ``timeout_s`` for one."""
        ...

    def delete(self) -> None:
        """Remove the queue (its client is done), not only at its expiry."""
        ...

    def close(self) -> None: ...


class ResultLookup(Protocol):
    """Finds kept results by job id, whoever listened when they were published."""

    def find(self, job_id: str) -> list[ResultMessage]:
        """Every kept result of ``job_id``, oldest first (a job done twice has two)."""
        ...

    def close(self) -> None: ...
