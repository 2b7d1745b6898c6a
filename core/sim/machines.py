"""The simulator's fleet: machines that boot after a delay and serve one job at a time.

Implements the core's ``MachineView`` and ``Fleet`` ports in virtual time, so
the scaler cannot tell it from the live registry and deployer.
"""

from __future__ import annotations

from dataclasses import dataclass

from imgproc.core.machines import Machine, MachineState, check_transition
from imgproc.core.metrics.record import MachineSpan

IDLE = -1


@dataclass(slots=True)
class SimMachine:
    """A simulated worker machine; ``job`` is the index of its job or IDLE."""

    id: str
    state: MachineState
    requested_at: float
    state_since: float
    ready_at: float | None = None
    released_at: float | None = None
    job: int = IDLE
    jobs_done: int = 0
    boot_at: float = 0.0  # when it will be ready, once booting
    start_cost: float = 0.0  # the live start it pays beyond the boot delay

    def move(self, state: MachineState, at: float) -> None:
        check_transition(self.id, self.state, state)
        self.state = state
        self.state_since = at

    def snapshot(self, job_ids: list[str]) -> Machine:
        return Machine(
            id=self.id,
            state=self.state,
            requested_at=self.requested_at,
            state_since=self.state_since,
            address=f"sim://{self.id}",
            current_job=None if self.job == IDLE else job_ids[self.job],
            jobs_done=self.jobs_done,
        )

    def span(self) -> MachineSpan:
        return MachineSpan(self.id, self.requested_at, self.ready_at, self.released_at)
