"""The deployer's decisions: provision and destroy machines through a provider,
record every state change, notice dead machines, and reconcile after a restart.

A provider is the thing that really starts machines (local worker processes,
Vagrant VMs). The deployer never kills a busy worker: destroying a running
machine drains it first, and the provider only kills after its drain timeout.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from imgproc.core.clock import Clock
from imgproc.core.errors import IllegalTransition, ImgprocError, UnknownMachine
from imgproc.core.machines import STARTING, Machine, MachineState
from imgproc.core.messages import DeployerCommand
from imgproc.core.ports import MachineRegistry, Provider

log = logging.getLogger(__name__)
S = MachineState
LIVE = (S.BOOTING, S.RUNNING, S.DRAINING)


class Deployer:
    """Carries out commands and keeps the registry true to what the provider runs.

    Commands may be carried out on several threads at once (a VM takes minutes to
    start). ``background`` runs the slow part of failing a machine (stopping it)
    off the caller's thread (whatever it returns, a future say, is ignored); by default it
    runs inline.
    """

    def __init__(self, registry: MachineRegistry, provider: Provider, clock: Clock,
                 boot_timeout_s: float = 300.0,
                 report: Callable[[Machine], None] | None = None,
                 background: Callable[[Callable[[], None]], object] | None = None) -> None:
        self.registry = registry
        self.provider = provider
        self.clock = clock
        self.boot_timeout_s = boot_timeout_s
        self.report = report or (lambda machine: None)
        self.background: Callable[[Callable[[], None]], object] = background or (
            lambda work: work())
        self._in_hand: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle(self, command: DeployerCommand) -> None:
        try:
            if command.command == "provision":
                self.provision(command.machine_id)
            else:
                self.destroy(command.machine_id)
        except (UnknownMachine, IllegalTransition) as exc:
            log.warning("ignoring %s of %s: %s", command.command, command.machine_id, exc)

    @contextmanager
    def _handling(self, machine_id: str) -> Iterator[None]:
        """While a command works on a machine, checks leave it alone (counted: two
        commands for one machine may overlap)."""
        with self._lock:
            self._in_hand[machine_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_hand[machine_id] -= 1
                if not self._in_hand[machine_id]:
                    del self._in_hand[machine_id]

    def _move(self, machine_id: str, state: S, reason: str | None = None) -> Machine:
        machine = self.registry.transition(machine_id, state, self.clock.now(), reason)
        self.report(machine)
        return machine

    def _going(self, machine_id: str) -> bool:
        return self.registry.get(machine_id).state in (S.DESTROYING, S.DESTROYED)

    def provision(self, machine_id: str) -> None:
        with self._handling(machine_id):
            self._move(machine_id, S.BOOTING)
            try:
                address = self.provider.start(machine_id)
            except ImgprocError as exc:
                if self._going(machine_id):
                    log.info("machine %s was destroyed while it started: %s", machine_id, exc)
                    return
                self._fail(machine_id, f"could not start: {exc}")
                return
            if self._going(machine_id):  # destroyed while it started: what started must go
                log.info("machine %s was destroyed while it started; stopping it", machine_id)
                self.provider.stop(machine_id)
                return
            if address:
                self.registry.update(machine_id, address=address)

    def destroy(self, machine_id: str) -> None:
        machine = self.registry.get(machine_id)
        if machine.state is S.RUNNING:
            self._move(machine_id, S.DRAINING)
        elif machine.state in STARTING:
            # Recorded first, so that a start this cuts short knows it was not a failure.
            self._move(machine_id, S.DESTROYING)
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
        """Mark failed every machine whose process is gone or that never booted in time;
        stopping them (slow for a VM) goes to ``background``."""
        alive = self.provider.alive()
        now = self.clock.now()
        with self._lock:
            in_hand = set(self._in_hand)
        failed = []
        for machine in self.registry.machines():
            if machine.id in in_hand:
                continue
            reason = None
            if machine.state in LIVE and machine.id not in alive:
                reason = f"{self.provider.name} machine disappeared while {machine.state.value}"
            elif machine.state is S.BOOTING and now - machine.state_since > self.boot_timeout_s:
                reason = f"not running after {self.boot_timeout_s:.0f} s"
            if reason:
                try:
                    log.warning("machine %s failed: %s", machine.id, reason)
                    self._move(machine.id, S.FAILED, reason)
                except (UnknownMachine, IllegalTransition) as exc:
                    log.info("machine %s changed while being checked: %s", machine.id, exc)
                    continue
                self.background(self._stopper(machine.id, reason))
                failed.append(machine.id)
        return failed

    def _stopper(self, machine_id: str, reason: str) -> Callable[[], None]:
        def stop() -> None:
            with self._handling(machine_id):
                self._stop_failed(machine_id, reason)
        return stop

    def reconcile(self) -> tuple[list[str], list[str], list[str]]:
        """After a restart: stop what nobody recorded, finish what was being torn
        down, and fail records whose machine is gone.

        Returns (orphans stopped, teardowns finished, machines failed).
        """
        records = {m.id: m for m in self.registry.machines()}
        alive = self.provider.alive()
        orphans = sorted(i for i in alive if i not in records)
        for machine_id in orphans:
            log.warning("stopping %s: running but not recorded", machine_id)
            self.provider.stop(machine_id)
        going = sorted(i for i, m in records.items()
                       if m.state in (S.DRAINING, S.DESTROYING, S.FAILED))
        for machine_id in going:
            self._finish(machine_id)
        return orphans, going, self.check()
