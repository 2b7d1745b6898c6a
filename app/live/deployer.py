"""``imgproc deployer``: carries out provision and destroy commands through a provider.

It reconciles on start (stops unrecorded workers, finishes interrupted
teardowns, fails records whose machine is gone), checks every second that
live machines still exist, and publishes each state change on the callback
queue. Commands are carried out on threads (a VM's start takes minutes) and
acknowledged once done, so none is lost to a deployer killed halfway. pika is
not thread-safe, so only the main thread touches the broker: the threads hand
their reports and acknowledgements back through queues.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from imgproc.adapters.providers.local import LocalProvider
from imgproc.adapters.rabbit import RabbitCommandBus
from imgproc.adapters.system_clock import SystemClock
from imgproc.adapters.zk.client import connect
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.core.deployer import Deployer
from imgproc.core.ports import Provider
from imgproc.core.machines import Machine
from imgproc.core.messages import BadMessage, DeployerCommand, StateReport
from imgproc.core.ports import Delivery
from imgproc.settings import Settings

log = logging.getLogger(__name__)
CHECK_EVERY_S = 1.0
MACHINE_THREADS = 32  # commands carried out at once (a VM's start takes minutes)


def settings_environment(settings: Settings) -> dict[str, str]:
    """Our environment plus every setting as ``IMGPROC_*`` variables (sections as JSON),
    so a child process (worker, deployer, scaler) runs with exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPROC_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        env[f"IMGPROC_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def make_provider(settings: Settings) -> Provider:
    """The provider the settings name: local worker processes or Vagrant VMs."""
    if settings.provider.kind == "vagrant":
        from imgproc.adapters.providers.vagrant import VagrantProvider

        return VagrantProvider.from_settings(settings)
    command = [sys.executable, "-m", "imgproc.cli", "worker"]
    return LocalProvider(settings.provider.state_dir, command, settings_environment(settings),
                         settings.provider.drain_timeout_s)


class _Reports:
    """State changes made on any thread, published from the main one."""

    def __init__(self, bus: RabbitCommandBus) -> None:
        self.bus = bus
        self.pending: queue.SimpleQueue[Machine] = queue.SimpleQueue()

    def __call__(self, machine: Machine) -> None:
        self.pending.put(machine)

    def flush(self) -> None:
        while not self.pending.empty():
            m = self.pending.get()
            self.bus.send_report(StateReport(machine_id=m.id, state=m.state.value,
                                             at=m.state_since, address=m.address, reason=m.reason))


class _Acks:
    """Deliveries of commands carried out on a thread, acknowledged from the main one. A
    command is acknowledged only once it is done, so a deployer killed halfway through a
    provision gets the command again when it restarts (pika is not thread-safe)."""

    def __init__(self) -> None:
        self.done: queue.SimpleQueue[Delivery] = queue.SimpleQueue()

    def when_done(self, delivery: Delivery) -> Callable[[Future], None]:
        """A command cancelled before it ran is left unacknowledged: the broker gives it back."""
        return lambda future: None if future.cancelled() else self.done.put(delivery)

    def flush(self) -> None:
        while not self.done.empty():
            self.done.get().ack()


def _take_command(bus: RabbitCommandBus, deployer: Deployer, pool: ThreadPoolExecutor,
                  acks: _Acks) -> None:
    delivery = bus.next_command(0.2)
    if delivery is None:
        return
    try:
        command = DeployerCommand.decode(delivery.body)
    except BadMessage as exc:
        delivery.dead_letter(str(exc))
        return
    log.info("%s %s", command.command, command.machine_id)
    # Both run off the main thread: a VM takes minutes to boot, and the main thread must
    # keep serving the broker (heartbeats), the checks and the other commands meanwhile.
    future = _in_pool(pool, lambda: deployer.handle(command),
                      f"{command.command} {command.machine_id}")
    future.add_done_callback(acks.when_done(delivery))


def _in_pool(pool: ThreadPoolExecutor, work: Callable[[], None], doing: str) -> Future:
    """Run ``work`` on the pool; its error is logged, not lost with the future."""
    def log_error(done: Future) -> None:
        exc = None if done.cancelled() else done.exception()
        if exc is not None:
            log.error("%s failed: %s", doing, exc, exc_info=(type(exc), exc, exc.__traceback__))

    future = pool.submit(work)
    future.add_done_callback(log_error)
    return future


def run_deployer(settings: Settings, stop: threading.Event) -> int:
    clock = SystemClock(stop)
    client = connect(settings.zk)
    bus = RabbitCommandBus(settings.rabbit, role="deployer", command_prefetch=MACHINE_THREADS)
    reports = _Reports(bus)
    provider = make_provider(settings)
    pool = ThreadPoolExecutor(max_workers=MACHINE_THREADS, thread_name_prefix="machine")
    deployer = Deployer(ZkMachineRegistry(client, settings.zk.root), provider, clock,
                        settings.provider.boot_timeout_s, report=reports,
                        background=lambda work: _in_pool(pool, work, "stopping a failed machine"))
    orphans, resumed, failed = deployer.reconcile()
    log.info("deployer up (%s, %s); reconciled: stopped %s, finished %s, failed %s",
             settings.rabbit.safe_url, settings.zk.hosts, orphans, resumed, failed)
    acks = _Acks()
    next_check = 0.0
    try:
        while not stop.is_set():
            _take_command(bus, deployer, pool, acks)
            acks.flush()
            if time.monotonic() >= next_check:
                deployer.check()
                next_check = time.monotonic() + CHECK_EVERY_S
            reports.flush()
    finally:
        # A stopping deployer leaves no half-made machine: starts under way are cut short
        # (and the machines destroyed), commands not begun go back to the queue.
        interrupt_starts = getattr(provider, "interrupt_starts", None)
        if interrupt_starts is not None:
            interrupt_starts()
        pool.shutdown(wait=True, cancel_futures=True)
        acks.flush()
        close = getattr(provider, "close", None)
        if close is not None:
            close()
        reports.flush()
        bus.close()
        client.stop()
        client.close()
    return 0


def describe(settings: Settings) -> str:
    return json.dumps({"broker": settings.rabbit.safe_url, "zookeeper": settings.zk.hosts,
                       "provider": settings.provider.kind})
