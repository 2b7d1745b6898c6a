"""The live fleet: what the scaler's ``request_machine``/``release_machine`` mean
when machines are real. A request is recorded in the registry (``preparing``)
and sent to the deployer as a command; a release is a destroy command (the
deployer drains the machine before it goes).
"""

from __future__ import annotations

from collections.abc import Callable

from imgproc.core.clock import Clock
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import DeployerCommand
from imgproc.core.ports import CommandBus, MachineRegistry


class CommandedFleet:
    """Implements the ``Fleet`` port over a registry and the deployer's command bus."""

    def __init__(self, registry: MachineRegistry, commands: CommandBus, clock: Clock,
                 new_id: Callable[[], str], machine_type: str = "worker") -> None:
        self.registry = registry
        self.commands = commands
        self.clock = clock
        self.new_id = new_id
        self.machine_type = machine_type

    def request_machine(self) -> str:
        now = self.clock.now()
        machine_id = self.new_id()
        self.registry.create(Machine(machine_id, MachineState.PREPARING, now, now,
                                     details={"type": self.machine_type}))
        self.commands.send(DeployerCommand(command="provision", machine_id=machine_id,
                                           machine_type=self.machine_type, sent_at=now))
        return machine_id

    def release_machine(self, machine_id: str) -> None:
        self.commands.send(DeployerCommand(command="destroy", machine_id=machine_id,
                                           machine_type=self.machine_type,
                                           sent_at=self.clock.now()))

    def release_all(self) -> list[str]:
        """Release every machine not already going; returns their ids."""
        going = []
        for machine in self.registry.machines():
            if machine.state in (MachineState.DESTROYING, MachineState.DESTROYED):
                continue
            self.release_machine(machine.id)
            going.append(machine.id)
        return going

    def wait_until_gone(self, timeout_s: float, poll_s: float = 0.2,
                        meanwhile: Callable[[], None] = lambda: None) -> list[str]:
        """Wait on the clock until the registry holds no machine, or ``timeout_s`` passes,
        calling ``meanwhile`` between looks; returns the ids of those still there."""
        deadline = self.clock.now() + timeout_s
        while (left := self.registry.machines()) and self.clock.now() < deadline:
            meanwhile()
            self.clock.sleep(poll_s)
        return [m.id for m in left]
