"""``imgproc worker``: one worker process, i.e. one machine's worker.

It announces itself in ZooKeeper (an ephemeral node, gone when it dies),
moves its machine record to ``running``, records the job it holds, and serves
jobs until SIGTERM, after which it finishes the current job and exits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from imgproc.adapters.images import ImageProcessor
from imgproc.adapters.rabbit import RabbitJobSource, RabbitResultSink
from imgproc.adapters.system_clock import ScaledSleep, SystemClock
from imgproc.adapters.zk.client import connect
from imgproc.adapters.zk.liveness import ZkLiveness
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.core.errors import UnknownMachine
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import JobMessage
from imgproc.core.worker import SimulatedWork, Worker
from imgproc.settings import Settings

log = logging.getLogger(__name__)
S = MachineState


class ImageWork:
    """Runs a job's image operations with the configured roots and limits."""

    def __init__(self, processor: ImageProcessor) -> None:
        self.processor = processor

    def execute(self, job: JobMessage) -> None:
        self.processor.process(job.ops, job.input or "", job.output or "")


class RegistryProgress:
    """Records in the machine's record whether the worker is busy, with which job, and how
    many it has done.

    Writing twice per job made ZooKeeper most of a short job's cost (benchmarks), so the
    record is written when the worker turns busy, at most every ``refresh_s`` while it
    stays busy, and when it turns idle (a poll that brought no job).
    """

    def __init__(self, registry: ZkMachineRegistry, machine_id: str, refresh_s: float = 1.0,
                 monotonic=time.monotonic) -> None:
        self.registry = registry
        self.machine_id = machine_id
        self.refresh_s = refresh_s
        self.monotonic = monotonic
        self.done = registry.get(machine_id).jobs_done
        self._busy = False
        self._written_at = -float("inf")

    def _write(self, current_job: str | None) -> None:
        self.registry.update(self.machine_id, current_job=current_job, jobs_done=self.done)
        self._written_at = self.monotonic()

    def job_started(self, job_id: str) -> None:
        if not self._busy or self.monotonic() - self._written_at >= self.refresh_s:
            self._write(job_id)
        self._busy = True

    def job_finished(self, job_id: str, ok: bool) -> None:
        self.done += 1

    def idle(self) -> None:
        if self._busy:
            self._write(None)
            self._busy = False


def outward_address(zk_hosts: str) -> str:
    """The address this host uses to reach the first ZooKeeper server: a VM's address on
    the VMs' network, loopback for a local worker. Nothing is sent (a UDP socket's
    connect only picks the route); the host name when there is no IPv4 route."""
    server = zk_hosts.split(",")[0].strip().split("/")[0]
    host, _, port = server.rpartition(":")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host or server or "127.0.0.1", int(port) if port.isdigit() else 2181))
            return probe.getsockname()[0]
    except OSError:
        return socket.gethostname()


def come_up(registry: ZkMachineRegistry, machine_id: str, now: float, address: str) -> None:
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


def run_worker(settings: Settings, machine_id: str, stop: threading.Event) -> int:
    clock = SystemClock(stop)
    boot_delay = settings.provider.boot_delay_s
    if boot_delay and stop.wait(boot_delay):
        return 0
    client = connect(settings.zk)
    try:
        registry = ZkMachineRegistry(client, settings.zk.root)
        ZkLiveness(client, settings.zk.root).announce(machine_id)
        come_up(registry, machine_id, clock.now(), outward_address(settings.zk.hosts))
        source = RabbitJobSource(settings.rabbit, role=f"worker {machine_id}")
        sink = RabbitResultSink(settings.rabbit)
        processor = ImageProcessor(settings.worker.input_root, settings.worker.output_root,
                                   settings.worker.max_pixels)
        worker = Worker(machine_id, source, sink, ImageWork(processor),
                        SimulatedWork(ScaledSleep()), clock, RegistryProgress(registry, machine_id))
        log.info("worker %s serving %s", machine_id, settings.rabbit.safe_url)
        worker.run(stop)
        source.close()
        sink.close()
        log.info("worker %s stopped: %s", machine_id, worker.counters)
    finally:
        client.stop()
        client.close()
    return 0
