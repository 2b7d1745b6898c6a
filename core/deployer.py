"""The deployer's decisions: provision and destroy machines through a provider,
record every state change, notice dead or stuck machines, and reconcile after a restart.

A provider is the thing that really starts machines (local worker processes,
Vagrant VMs). The deployer never kills a busy worker: destroying a running
machine drains it first, and the provider only kills after its drain timeout.

**Owners.** Several deployers may share one registry root and one command queue (two
operators' runs, or a restarted deployer beside an old one), and each provider sees only
its own machines: a deployer that judged every record by its own provider's ``alive()``
would fail the others' machines as disappeared. So a machine has an owner: the deployer
that provisions it claims it, by compare-and-set, while it is still preparing
(:meth:`~imgproc.core.machines.Machine.claimed_by`), and from then on only that deployer
checks it, finishes its teardown and reconciles it. ``owner`` names the provider's view
(kind, host, state directory: ``imgproc.bootstrap.processes.deployer_owner``), so a
deployer restarted on the same state takes its machines back. Owners were chosen over a
lock (one active deployer per root) because commands are not addressed: with a lock, a
deployer taking over with another provider's view would fail every machine of the one
it replaced while their workers run on. Two deployers of the same owner, though, would
each take a machine the other is still starting for disappeared: they take turns, by a
lock per owner that the composition root holds around a deployer (``OwnerLock``). A
record nobody owns (not yet claimed, or written by hand) is judged by any deployer. A
destroy command that reaches a deployer for another's machine records the move
(draining or destroying), and the owner, whose checks find its machine in that state
and not in hand, stops it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from imgproc.core.clock import Clock
from imgproc.core.errors import IllegalTransition, ImgprocError, UnknownMachine
from imgproc.core.machines import STARTING, Machine, MachineState, NotClaimable
from imgproc.core.messages import DeployerCommand
from imgproc.core.ports import MachineRegistry, Provider

log = logging.getLogger(__name__)
S = MachineState
LIVE = (S.BOOTING, S.RUNNING, S.DRAINING)
TEARING_DOWN = (S.DRAINING, S.DESTROYING)
#: What a command may find that makes it moot: it is logged and ignored.
DOES_NOT_FIT = (UnknownMachine, IllegalTransition, NotClaimable)


class Deployer:
    """Carries out commands and keeps the registry true to what the provider runs.

    Commands may be carried out on several threads at once (a VM takes minutes to
    start). ``background`` runs the slow part of failing a machine (stopping it)
    off the caller's thread (whatever it returns, a future say, is ignored); by default it
    runs inline. ``owner`` names this deployer's machines (see the module's docstring).
    """

    def __init__(self, registry: MachineRegistry, provider: Provider, clock: Clock,
                 boot_timeout_s: float = 300.0,
                 report: Callable[[Machine], None] | None = None,
                 background: Callable[[Callable[[], None]], object] | None = None,
                 owner: str = "deployer") -> None:
        self.registry = registry
        self.provider = provider
        self.clock = clock
        self.boot_timeout_s = boot_timeout_s
        self.owner = owner
        self.report = report or (lambda machine: None)
        self.background: Callable[[Callable[[], None]], object] = background or (
            lambda work: work())
        self._in_hand: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle(self, command: DeployerCommand) -> None:
        """Carry out ``command``. One that does not fit the record (an unknown machine, a
        move the lifecycle forbids, a machine already claimed) is logged and ignored;
        any other error is raised: the command was not carried out."""
        try:
            if command.command == "provision":
                self.provision(command.machine_id)
            else:
                self.destroy(command.machine_id)
        except DOES_NOT_FIT as exc:
            log.warning("ignoring %s of %s: %s", command.command, command.machine_id, exc)

    @contextmanager
    def _handling(self, machine_id: str) -> Iterator[None]:
        """While a command works on a machine, checks leave it alone (counted: two
        commands for one machine may overlap)."""
        self._hold(machine_id)
        try:
            yield
        finally:
            self._release(machine_id)

    def _hold(self, machine_id: str) -> None:
        with self._lock:
            self._in_hand[machine_id] += 1

    def _release(self, machine_id: str) -> None:
        with self._lock:
            self._in_hand[machine_id] -= 1
            if not self._in_hand[machine_id]:
                del self._in_hand[machine_id]

    def _in_background(self, machine_id: str, work: Callable[[], None]) -> None:
        """Run ``work`` through ``background``, the machine held from now on (not only once
        the work begins), so that the next check does not hand it out again."""
        self._hold(machine_id)

        def held() -> None:
            try:
                work()
            finally:
                self._release(machine_id)

        self.background(held)

    def _move(self, machine_id: str, state: S, reason: str | None = None) -> Machine:
        machine = self.registry.transition(machine_id, state, self.clock.now(), reason)
        self.report(machine)
        return machine

    def _going(self, machine_id: str) -> bool:
        return self.registry.get(machine_id).state in (S.DESTROYING, S.DESTROYED)

    def _judges(self, machine: Machine) -> bool:
        """Whether this deployer checks ``machine``: its own, or one nobody owns."""
        return machine.owner in (None, self.owner)

    def provision(self, machine_id: str) -> None:
        with self._handling(machine_id):
            self.registry.update(machine_id, owner=self.owner)  # the claim: one deployer wins
            self._move(machine_id, S.BOOTING)
            self._start(machine_id)

    def _start(self, machine_id: str) -> None:
        try:
            address = self.provider.start(machine_id)
        except Exception as exc:  # noqa: BLE001 - whatever the provider raised, the start failed
            self._start_failed(machine_id, exc)
            return
        if self._going(machine_id):  # destroyed while it started: what started must go
            log.info("machine %s was destroyed while it started; stopping it", machine_id)
            self.provider.stop(machine_id)
            return
        if address:
            self.registry.update(machine_id, address=address)

    def _start_failed(self, machine_id: str, exc: Exception) -> None:
        if self._going(machine_id):
            log.info("machine %s was destroyed while it started: %s", machine_id, exc)
            return
        if not isinstance(exc, ImgprocError):  # a provider's bug: keep its traceback
            log.error("provider %s raised on starting %s", self.provider.name, machine_id,
                      exc_info=exc)
        detail = exc if isinstance(exc, ImgprocError) else f"{type(exc).__name__}: {exc}"
        self._fail(machine_id, f"could not start: {detail}")

    def destroy(self, machine_id: str) -> None:
        with self._handling(machine_id):
            machine = self.registry.get(machine_id)
            if machine.state is S.RUNNING:
                self._move(machine_id, S.DRAINING)
            elif machine.state in STARTING:
                # Recorded first, so that a start this cuts short knows it was not a failure.
                self._move(machine_id, S.DESTROYING)
            if not self._judges(machine):
                log.info("machine %s is %s's: that deployer stops it", machine_id, machine.owner)
                return
            if machine.state in (S.PREPARING, S.BOOTING, S.RUNNING, S.DRAINING, S.FAILED):
                self._finish(machine_id)

    def _finish(self, machine_id: str) -> None:
        """Stop the machine (draining first), then record it gone."""
        with self._handling(machine_id):
            self.provider.stop(machine_id)
            if self.registry.get(machine_id).state is not S.DESTROYING:
                self._move(machine_id, S.DESTROYING)
            self._move(machine_id, S.DESTROYED)

    def _fail(self, machine_id: str, reason: str) -> None:
        log.warning("machine %s failed: %s", machine_id, reason)
        self._move(machine_id, S.FAILED, reason)
        self._stop_failed(machine_id, reason)

    def _stop_failed(self, machine_id: str, reason: str) -> None:
        try:
            self.provider.stop(machine_id)
        except ImgprocError as exc:
            log.warning("could not stop failed machine %s: %s", machine_id, exc)
        self._move(machine_id, S.DESTROYED, reason)

    def check(self) -> list[str]:
        """Mark failed every machine of this deployer's whose process is gone or that is
        not running by the boot timeout, and finish teardowns another deployer recorded;
        stopping machines (slow for a VM) goes to ``background``. Returns the failed ids."""
        alive = self.provider.alive()
        now = self.clock.now()
        with self._lock:
            in_hand = set(self._in_hand)
        failed = []
        for machine in self.registry.machines():
            if machine.id in in_hand or not self._judges(machine):
                continue
            if self._left_to_finish(machine, alive):
                self._in_background(machine.id, self._finisher(machine.id))
                continue
            reason = self._failure(machine, alive, now)
            if reason and self._mark_failed(machine.id, reason):
                failed.append(machine.id)
        return failed

    def _left_to_finish(self, machine: Machine, alive: set[str]) -> bool:
        """A teardown of one of ours that nothing here carries out (recorded by another
        deployer that got the destroy command); a draining machine gone failed instead."""
        return (machine.owner == self.owner and machine.state in TEARING_DOWN
                and (machine.state is S.DESTROYING or machine.id in alive))

    def _failure(self, machine: Machine, alive: set[str], now: float) -> str | None:
        """Why ``machine`` has failed, or None if it has not."""
        if machine.state in LIVE and machine.id not in alive:
            return f"{self.provider.name} machine disappeared while {machine.state.value}"
        if machine.state in STARTING and now - machine.state_since > self.boot_timeout_s:
            if machine.state is S.PREPARING:
                return (f"still preparing after the boot timeout ({self.boot_timeout_s:.0f} s): "
                        f"no deployer carried out its provision")
            return f"not running after {self.boot_timeout_s:.0f} s"
        return None

    def _mark_failed(self, machine_id: str, reason: str) -> bool:
        """Record ``machine_id`` failed and stop it in the background; False if it changed
        meanwhile (another command or deployer moved it first)."""
        try:
            log.warning("machine %s failed: %s", machine_id, reason)
            self._move(machine_id, S.FAILED, reason)
        except (UnknownMachine, IllegalTransition) as exc:
            log.info("machine %s changed while being checked: %s", machine_id, exc)
            return False
        self._in_background(machine_id, lambda: self._stop_failed(machine_id, reason))
        return True

    def _finisher(self, machine_id: str) -> Callable[[], None]:
        def finish() -> None:
            log.info("finishing the teardown of machine %s", machine_id)
            self._finish(machine_id)
        return finish

    def reconcile(self) -> tuple[list[str], list[str], list[str]]:
        """After a restart: stop what nobody recorded, finish what was being torn
        down, and fail records whose machine is gone (of this deployer's machines).

        Returns (orphans stopped, teardowns finished, machines failed).
        """
        records = {m.id: m for m in self.registry.machines()}
        alive = self.provider.alive()
        orphans = sorted(i for i in alive if i not in records)
        for machine_id in orphans:
            log.warning("stopping %s: running but not recorded", machine_id)
            self.provider.stop(machine_id)
        going = sorted(i for i, m in records.items()
                       if self._judges(m) and m.state in (S.DRAINING, S.DESTROYING, S.FAILED))
        for machine_id in going:
            self._finish(machine_id)
        return orphans, going, self.check()
