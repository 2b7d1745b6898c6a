"""``imgproc deployer``: carries out provision and destroy commands through a provider.

It reconciles on start (stops unrecorded workers, finishes interrupted
teardowns, fails records whose machine is gone), checks every second that
live machines still exist, and publishes each state change on the callback
queue. Commands are carried out on an executor (threads live: a VM's start takes
minutes) and acknowledged once done, so none is lost to a deployer killed halfway.
A command that could not be carried out is never acknowledged as if it had been: after
an error that may pass (ZooKeeper unreachable) it is tried again, the delivery kept
meanwhile, a few times with growing delays; after any other error, or the last try, it
is dead-lettered with the reason. A check that fails is logged and the next one tried:
the loop goes on. pika is not thread-safe, so only the loop's thread touches the broker:
the executor's threads hand their reports and outcomes back through queues.
``imgproc.bootstrap.build_deployer`` wires it; ``run_deployer`` runs it while it holds its
owner's lock (one active deployer per provider state, ``imgproc.core.deployer``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from contextlib import ExitStack
from dataclasses import dataclass

from imgproc.core.clock import Clock
from imgproc.core.deployer import Deployer
from imgproc.core.errors import ImgprocError
from imgproc.core.machines import Machine
from imgproc.core.messages import BadMessage, DeployerCommand, StateReport
from imgproc.core.ports import CommandBus, Delivery, Provider

log = logging.getLogger(__name__)
CHECK_EVERY_S = 1.0
MACHINE_THREADS = 32  # commands carried out at once (a VM's start takes minutes)
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # a minute in all, then dead-lettered


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


@dataclass
class _Command:
    """A command taken from the queue, its delivery held until it is settled."""

    delivery: Delivery
    command: DeployerCommand
    tries: int = 0
    due: float = 0.0

    def __str__(self) -> str:
        return f"{self.command.command} {self.command.machine_id}"


class _Settlements:
    """Outcomes of commands carried out on a thread, settled from the loop's (pika is not
    thread-safe). Done: acknowledged, so a deployer killed halfway through a provision gets
    the command again when it restarts. Failed by an error of ``retryable``: tried again
    after the next of ``delays_s``. Failed otherwise, or out of tries: dead-lettered with
    the reason. Cancelled before it ran: left unacknowledged, the broker gives it back."""

    def __init__(self, retryable: tuple[type[Exception], ...], delays_s: Sequence[float]) -> None:
        self.retryable = retryable
        self.delays_s = tuple(delays_s)
        self.outcomes: queue.SimpleQueue[tuple[_Command, BaseException | None]] = (
            queue.SimpleQueue())
        self.waiting: list[_Command] = []

    def when_done(self, item: _Command) -> Callable[[Future], None]:
        def done(future: Future) -> None:
            if not future.cancelled():
                self.outcomes.put((item, future.exception()))
        return done

    def due(self, now: float) -> list[_Command]:
        """The commands whose next try is due, no longer waiting."""
        due = [item for item in self.waiting if item.due <= now]
        self.waiting = [item for item in self.waiting if item.due > now]
        return due

    def flush(self, now: float) -> None:
        """Settle every outcome in."""
        while not self.outcomes.empty():
            item, error = self.outcomes.get()
            if error is None:
                item.delivery.ack()
            elif isinstance(error, self.retryable) and item.tries < len(self.delays_s):
                delay = self.delays_s[item.tries]
                item.tries, item.due = item.tries + 1, now + delay
                log.warning("%s not carried out (%s); trying again in %g s", item, error, delay)
                self.waiting.append(item)
            else:
                log.error("%s not carried out: dead-lettered: %s", item, error, exc_info=error)
                item.delivery.dead_letter(f"{item} not carried out: {error}")


class DeployerService:
    """The deployer's loop: commands in, machines through the provider, reports out."""

    def __init__(self, registry, provider: Provider, bus: CommandBus, clock: Clock,
                 executor: Executor, boot_timeout_s: float,
                 close: Callable[[], None] = lambda: None, *, owner: str = "deployer",
                 retryable: tuple[type[Exception], ...] = (),
                 retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
                 check_every_s: float = CHECK_EVERY_S) -> None:
        """``owner`` names this deployer's machines (:mod:`imgproc.core.deployer`);
        ``retryable``: errors after which a command is tried again (the composition root
        gives the registry's "unreachable for now")."""
        self.provider = provider
        self.bus = bus
        self.clock = clock
        self.executor = executor
        self._close = close
        self.reports = _Reports(bus)
        self.settle = _Settlements(retryable, retry_delays_s)
        self.check_every_s = check_every_s
        self.deployer = Deployer(registry, provider, clock, boot_timeout_s, report=self.reports,
                                 background=lambda work: self._in_pool(work, "stopping a machine"),
                                 owner=owner)
        self._next_check = clock.now()

    def begin(self) -> None:
        orphans, resumed, failed = self.deployer.reconcile()
        log.info("deployer up (%s, owner %s); reconciled: stopped %s, finished %s, failed %s",
                 self.provider.name, self.deployer.owner, orphans, resumed, failed)
        self.reports.flush()

    def step(self, wait_s: float) -> None:
        """Take at most one command (waiting up to ``wait_s``), try again the commands due,
        settle those carried out, check the machines when a check is due, and publish what
        changed."""
        self._take_command(wait_s)
        now = self.clock.now()
        for item in self.settle.due(now):
            self._carry_out(item)
        self.settle.flush(now)
        # a check is due, or the clock was set back (by more than an interval)
        if now >= self._next_check or now < self._next_check - 2 * self.check_every_s:
            self._check()
            self._next_check = self.clock.now() + self.check_every_s
        self.reports.flush()

    def _check(self) -> None:
        try:
            self.deployer.check()
        except ImgprocError as exc:  # the registry or the provider unreachable, say
            log.warning("check skipped: %s", exc)

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
        destroyed), commands not begun or waiting for another try go back to the queue.
        Every step is taken, whatever an earlier one raised; the first error is raised at
        the end."""
        with ExitStack() as steps:  # run last-in first-out: listed here in reverse
            steps.callback(self._close)
            steps.callback(self.reports.flush)
            steps.callback(self.provider.close)
            steps.callback(self.settle.flush, self.clock.now())
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
        self._carry_out(_Command(delivery, command))

    def _carry_out(self, item: _Command) -> None:
        # Off the loop's thread: a VM takes minutes to boot, and the loop must keep
        # serving the broker (heartbeats), the checks and the other commands meanwhile.
        # Its error is logged when it is settled, not here.
        future = self.executor.submit(self.deployer.handle, item.command)
        future.add_done_callback(self.settle.when_done(item))

    def _in_pool(self, work: Callable[[], None], doing: str) -> Future:
        """Run ``work`` on the executor; its error is logged, not lost with the future."""
        def log_error(done: Future) -> None:
            exc = None if done.cancelled() else done.exception()
            if exc is not None:
                log.error("%s failed: %s", doing, exc, exc_info=(type(exc), exc, exc.__traceback__))

        future = self.executor.submit(work)
        future.add_done_callback(log_error)
        return future
