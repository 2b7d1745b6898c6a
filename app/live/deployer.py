"""``imgproc deployer``: carries out provision and destroy commands through a provider.

It reconciles on start (stops unrecorded workers, finishes interrupted
teardowns, fails records whose machine is gone), checks every second that
live machines still exist, and publishes each state change on the callback
queue. Commands are carried out on an executor (threads live: a VM's start takes
minutes) and acknowledged once done, so none is lost to a deployer killed halfway.
pika is not thread-safe, so only the loop's thread touches the broker: the
executor's threads hand their reports and acknowledgements back through queues.
``imgproc.bootstrap.build_deployer`` wires it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextlib import ExitStack

from imgproc.core.clock import Clock
from imgproc.core.deployer import Deployer
from imgproc.core.machines import Machine
from imgproc.core.messages import BadMessage, DeployerCommand, StateReport
from imgproc.core.ports import CommandBus, Delivery, Provider

log = logging.getLogger(__name__)
CHECK_EVERY_S = 1.0
MACHINE_THREADS = 32  # commands carried out at once (a VM's start takes minutes)


class _Reports:
    """State changes made on any thread, published from the loop's."""

    def __init__(self, bus: CommandBus) -> None:
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
    """Deliveries of commands carried out on a thread, acknowledged from the loop's. A
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


class DeployerService:
    """The deployer's loop: commands in, machines through the provider, reports out."""

    def __init__(self, registry, provider: Provider, bus: CommandBus, clock: Clock,
                 executor: Executor, boot_timeout_s: float,
                 close: Callable[[], None] = lambda: None) -> None:
        self.provider = provider
        self.bus = bus
        self.clock = clock
        self.executor = executor
        self._close = close
        self.reports = _Reports(bus)
        self.acks = _Acks()
        self.deployer = Deployer(registry, provider, clock, boot_timeout_s, report=self.reports,
                                 background=lambda work: self._in_pool(work, "stopping a machine"))
        self._next_check = clock.now()

    def begin(self) -> None:
        orphans, resumed, failed = self.deployer.reconcile()
        log.info("deployer up (%s); reconciled: stopped %s, finished %s, failed %s",
                 self.provider.name, orphans, resumed, failed)
        self.reports.flush()

    def step(self, wait_s: float) -> None:
        """Take at most one command (waiting up to ``wait_s``), check the machines when a
        check is due, and publish what changed."""
        self._take_command(wait_s)
        self.acks.flush()
        now = self.clock.now()
        # a check is due, or the clock was set back (by more than an interval)
        if now >= self._next_check or now < self._next_check - 2 * CHECK_EVERY_S:
            self.deployer.check()
            self._next_check = self.clock.now() + CHECK_EVERY_S
        self.reports.flush()

    def run(self, stop: threading.Event) -> int:
        try:
            self.begin()
            while not stop.is_set():
                self.step(0.2)
        finally:
            self.shutdown()
        return 0

    def shutdown(self) -> None:
        """Leave no half-made machine: starts under way are cut short (and the machines
        destroyed), commands not begun go back to the queue. Every step is taken, whatever
        an earlier one raised; the first error is raised at the end."""
        with ExitStack() as steps:  # run last-in first-out: listed here in reverse
            steps.callback(self._close)
            steps.callback(self.reports.flush)
            steps.callback(self.provider.close)
            steps.callback(self.acks.flush)
            steps.callback(self.executor.shutdown, wait=True, cancel_futures=True)
            steps.callback(self.provider.interrupt_starts)

    def _take_command(self, wait_s: float) -> None:
        delivery = self.bus.next_command(wait_s)
        if delivery is None:
            return
        try:
            command = DeployerCommand.decode(delivery.body)
        except BadMessage as exc:
            delivery.dead_letter(str(exc))
            return
        log.info("%s %s", command.command, command.machine_id)
        # Off the loop's thread: a VM takes minutes to boot, and the loop must keep
        # serving the broker (heartbeats), the checks and the other commands meanwhile.
        future = self._in_pool(lambda: self.deployer.handle(command),
                               f"{command.command} {command.machine_id}")
        future.add_done_callback(self.acks.when_done(delivery))

    def _in_pool(self, work: Callable[[], None], doing: str) -> Future:
        """Run ``work`` on the executor; its error is logged, not lost with the future."""
        def log_error(done: Future) -> None:
            exc = None if done.cancelled() else done.exception()
            if exc is not None:
                log.error("%s failed: %s", doing, exc, exc_info=(type(exc), exc, exc.__traceback__))

        future = self.executor.submit(work)
        future.add_done_callback(log_error)
        return future
