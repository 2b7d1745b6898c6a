"""The deployer's decisions: provision and destroy machines through a provider,
record every state change, notice dead machines, and reconcile after a restart.

A provider is the thing that really starts machines (local worker processes,
Vagrant VMs). The deployer never kills a busy worker: destroying a running
machine drains it first, and the provider only kills after its drain timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from imgproc.core.clock import Clock
from imgproc.core.errors import IllegalTransition, ImgprocError, UnknownMachine
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import DeployerCommand
from imgproc.core.ports import MachineRegistry

log = logging.getLogger(__name__)
S = MachineState
LIVE = (S.BOOTING, S.RUNNING, S.DRAINING)


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


class Deployer:
    """Carries out commands and keeps the registry true to what the provider runs."""

    def __init__(self, registry: MachineRegistry, provider: Provider, clock: Clock,
                 boot_timeout_s: float = 300.0,
                 report: Callable[[Machine], None] | None = None) -> None:
        self.registry = registry
        self.provider = provider
        self.clock = clock
        self.boot_timeout_s = boot_timeout_s
        self.report = report or (lambda machine: None)
        self._in_hand: set[str] = set()
        self._lock = threading.Lock()

    def handle(self, command: DeployerCommand) -> None:
        try:
            if command.command == "provision":
                self.provision(command.machine_id)
            else:
                self.destroy(command.machine_id)
        except (UnknownMachine, IllegalTransition) as exc:
            log.warning("ignoring %s of %s: %s", command.command, command.machine_id, exc)

    def _move(self, machine_id: str, state: S, reason: str | None = None) -> Machine:
        machine = self.registry.transition(machine_id, state, self.clock.now(), reason)
        self.report(machine)
        return machine

    def provision(self, machine_id: str) -> None:
        with self._lock:
            self._in_hand.add(machine_id)
        try:
            self._move(machine_id, S.BOOTING)
            try:
                address = self.provider.start(machine_id)
            except ImgprocError as exc:
                if self.registry.get(machine_id).state in (S.DESTROYING, S.DESTROYED):
                    log.info("machine %s was destroyed while it started: %s", machine_id, exc)
                    return
                self._fail(machine_id, f"could not start: {exc}")
                return
            if address:
                self.registry.update(machine_id, address=address)
        finally:
            with self._lock:
                self._in_hand.discard(machine_id)

    def destroy(self, machine_id: str) -> None:
        machine = self.registry.get(machine_id)
        if machine.state is S.RUNNING:
            self._move(machine_id, S.DRAINING)
        if machine.state in (S.PREPARING, S.BOOTING, S.RUNNING, S.DRAINING, S.FAILED):
            self._finish(machine_id)

    def _finish(self, machine_id: str) -> None:
        """Stop the machine (draining first), then record it gone."""
        with self._lock:
            self._in_hand.add(machine_id)
        try:
            self.provider.stop(machine_id)
            if self.registry.get(machine_id).state is not S.DESTROYING:
                self._move(machine_id, S.DESTROYING)
            self._move(machine_id, S.DESTROYED)
        finally:
            with self._lock:
                self._in_hand.discard(machine_id)

    def _fail(self, machine_id: str, reason: str) -> None:
        log.warning("machine %s failed: %s", machine_id, reason)
        self._move(machine_id, S.FAILED, reason)
        try:
            self.provider.stop(machine_id)
        except ImgprocError as exc:
            log.warning("could not stop failed machine %s: %s", machine_id, exc)
        self._move(machine_id, S.DESTROYED, reason)

    def check(self) -> list[str]:
        """Mark failed every machine whose process is gone or that never booted in time."""
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
                    self._fail(machine.id, reason)
                except (UnknownMachine, IllegalTransition) as exc:
                    log.info("machine %s changed while being checked: %s", machine.id, exc)
                    continue
                failed.append(machine.id)
        return failed

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
