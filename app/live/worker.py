"""``imgproc worker``: one worker process, i.e. one machine's worker.

It announces itself in ZooKeeper (an ephemeral node, gone when it dies, made
again in every new session after an expiry), moves its machine record to
``running``, records the job it holds, and serves jobs until SIGTERM, after
which it finishes the current job and exits.
``imgproc.bootstrap.build_worker`` wires it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from imgproc.core.addresses import parse_zk_hosts
from imgproc.core.clock import Clock
from imgproc.core.errors import ImgprocError, UnknownMachine
from imgproc.core.image_ops import ImageOp
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import JobMessage
from imgproc.core.ports import Liveness, MachineRegistry
from imgproc.core.worker import JobOutput, Worker

log = logging.getLogger(__name__)
PROGRESS_REFRESH_S = 1.0
S = MachineState


class Processor(Protocol):
    """Does a job's image operations (Pillow live)."""

    def process(self, ops: Sequence[ImageOp], input: str, output: str,
                job_id: str) -> JobOutput:
        """Write ``output`` as job ``job_id``'s: another job may not write it again."""
        ...


class ImageWork:
    """Runs a job's image operations with the configured roots and limits."""

    def __init__(self, processor: Processor) -> None:
        self.processor = processor

    def execute(self, job: JobMessage) -> JobOutput:
        return self.processor.process(job.ops, job.input or "", job.output or "", job.job_id)


class RegistryProgress:
    """Records in the machine's record whether the worker is busy, with which job, and how
    many it has done.

    Writing twice per job made ZooKeeper most of a short job's cost (benchmarks), so the
    record is written when the worker turns busy, at most every ``refresh_s`` while it
    stays busy, and when it turns idle (a poll that brought no job); a job still running
    a ``refresh_s`` after a write that named another job is written then, so that a long
    job's record names it (the console, an operator, a test). A write that fails
    (ZooKeeper kept dropping the connection) is logged, not raised: the jobs matter more
    than their bookkeeping, which the next write brings up to date.
    """

    def __init__(self, registry: ProgressRecords, machine_id: str, clock: Clock,
                 refresh_s: float = PROGRESS_REFRESH_S) -> None:
        self.registry = registry
        self.machine_id = machine_id
        self.refresh_s = refresh_s
        self.clock = clock
        self._done_before: int | None = None  # the record's count, read at the first write
        self._finished = 0  # jobs finished by this worker
        self._busy = False
        self._written_at = -float("inf")
        self._written_job: str | None = None

    def _write(self, current_job: str | None) -> bool:
        try:
            if self._done_before is None:
                self._done_before = self.registry.get(self.machine_id).jobs_done
            self.registry.update(self.machine_id, current_job=current_job,
                                 jobs_done=self._done_before + self._finished)
        except ImgprocError as exc:
            log.warning("progress of %s not recorded (the next write will): %s",
                        self.machine_id, exc)
            return False
        self._written_at = self.clock.now()
        self._written_job = current_job
        return True

    def _due(self) -> bool:
        since = self.clock.now() - self._written_at
        return not 0 <= since < self.refresh_s  # due, or the clock went back

    def job_started(self, job_id: str) -> None:
        if not self._busy or self._due():
            self._write(job_id)
        self._busy = True

    def working(self, job_id: str) -> None:
        if self._written_job != job_id and self._due():
            self._write(job_id)

    def job_finished(self, job_id: str, ok: bool) -> None:
        self._finished += 1

    def idle(self) -> None:
        if self._busy and self._write(None):
            self._busy = False


class ProgressRecords(Protocol):
    """What :class:`RegistryProgress` needs of the registry."""

    def get(self, machine_id: str) -> Machine: ...

    def update(self, machine_id: str, **fields: object) -> Machine | None: ...


class UpdatesInBackground:
    """A registry whose ``update`` goes out from a thread of its own, the latest one only.
    ZooKeeper holds a write for as long as it is out of reach, and the worker's thread must
    meanwhile go on serving the broker's heartbeats: blocked a minute, it would lose its
    connection and its job. Only the latest state matters, so writes never pile up."""

    def __init__(self, registry: MachineRegistry, name: str = "progress") -> None:
        self._registry = registry
        self._cond = threading.Condition()
        self._latest: tuple[str, dict[str, object]] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def get(self, machine_id: str) -> Machine:
        return self._registry.get(machine_id)

    def update(self, machine_id: str, **fields: object) -> None:
        with self._cond:
            self._latest = (machine_id, fields)
            self._cond.notify()

    def close(self, timeout_s: float = 5.0) -> None:
        """Let the latest write go out (at most ``timeout_s``), then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._latest is not None or self._closed)
                latest, self._latest = self._latest, None
            if latest is None:
                return
            machine_id, fields = latest
            try:
                self._registry.update(machine_id, **fields)
            except ImgprocError as exc:
                log.warning("progress of %s not recorded (the next write will): %s",
                            machine_id, exc)


def outward_address(zk_hosts: str) -> str:
    """The address this host uses to reach the first ZooKeeper server: a VM's address on
    the VMs' network, loopback for a local worker. Nothing is sent (a UDP socket's
    connect only picks the route); the host name when there is no IPv4 route."""
    host, port = parse_zk_hosts(zk_hosts).servers[0]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, port))
            return probe.getsockname()[0]
    except OSError:
        return socket.gethostname()


def come_up(registry: MachineRegistry, machine_id: str, now: float, address: str) -> None:
    """Move this machine's record to running (creating it for a worker started by hand)."""
    try:
        machine = registry.get(machine_id)
    except UnknownMachine:
        registry.create(Machine(machine_id, S.PREPARING, now, now, details={"type": "worker"}))
        machine = registry.transition(machine_id, S.BOOTING, now)
    if machine.state is S.PREPARING:
        machine = registry.transition(machine_id, S.BOOTING, now)
    if machine.state is not S.RUNNING:
        registry.transition(machine_id, S.RUNNING, now)
    details = dict(machine.details, ready_at=now, pid=os.getpid(), host=socket.gethostname())
    registry.update(machine_id, address=address, details=details)


class LiveWorker:
    """One machine's worker, wired: comes up in the registry, serves until told to stop."""

    def __init__(self, machine_id: str, worker: Worker, registry: MachineRegistry,
                 liveness: Liveness, address: str, clock: Clock,
                 close: Callable[[], None] = lambda: None) -> None:
        self.machine_id = machine_id
        self.worker = worker
        self.registry = registry
        self.liveness = liveness
        self.address = address
        self.clock = clock
        self._close = close

    def come_up(self) -> None:
        self.liveness.announce(self.machine_id)
        come_up(self.registry, self.machine_id, self.clock.now(), self.address)

    def run(self, stop: threading.Event) -> int:
        try:
            self.come_up()
            log.info("worker %s serving", self.machine_id)
            self.worker.run(stop)
            log.info("worker %s stopped: %s", self.machine_id, self.worker.counters)
        finally:
            self._close()
        return 0
