"""What the console shows and what it can ask for: the port between the widgets and a
running system (the simulator or the live cluster).

Widgets are handed :class:`ConsoleSnapshot` values and call :class:`ConsoleBackend`
methods; they never talk to RabbitMQ or ZooKeeper themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from imgproc.core.ports import TreeSource


@dataclass(frozen=True)
class MachineRow:
    """One line of the machines table."""

    id: str
    state: str
    address: str | None
    uptime_s: float
    jobs_done: int
    current_job: str | None


@dataclass(frozen=True)
class ReplayStatus:
    """A trace being replayed from the console."""

    trace: str
    speed: float
    state: str  # "running", "paused", "stopped", "done"
    submitted: int
    total: int


@dataclass(frozen=True)
class ComponentStatus:
    """A child process shown in a panel (deployer, scaler)."""

    name: str
    state: str  # "running", "exited with code N", "not started"
    lines: tuple[str, ...]


@dataclass(frozen=True)
class ConsoleSnapshot:
    """Everything on screen at one moment; ``now`` is seconds on the run's clock."""

    now: float
    backend: str
    policy: str
    policy_params: dict
    policy_applied_at: float | None
    slo_s: float
    ready: int
    in_flight: int
    arrival_rate: float
    completion_rate: float
    response_p50_s: float | None
    response_p95_s: float | None
    submitted: int
    completed: int
    failed: int
    machines: tuple[MachineRow, ...]
    broker: str
    zookeeper: str
    replay: ReplayStatus | None = None
    components: tuple[ComponentStatus, ...] = ()
    notice: str | None = None
    machine_counts: dict[str, int] = field(default_factory=dict)


class ConsoleBackend(Protocol):
    """A running system as the console drives it."""

    kind: str

    def snapshot(self) -> ConsoleSnapshot:
        """The current state; cheap enough to call every second."""
        ...

    def tick(self, wall_dt: float) -> None:
        """Let ``wall_dt`` seconds of wall time pass (the simulator advances; live: no-op)."""
        ...

    def set_policy(self, name: str, params: dict | None = None) -> None:
        """Switch the scaler's policy (live: written to the registry, applied within an
        interval)."""
        ...

    def adjust_workers(self, delta: int) -> str:
        """Ask for ``delta`` more (or fewer) workers now; returns what was done."""
        ...

    def start_replay(self, trace: Path, speed: float) -> None: ...

    def pause_replay(self) -> None:
        """Pause a running replay, or resume a paused one."""
        ...

    def stop_replay(self) -> None: ...

    def set_speed(self, speed: float) -> None:
        """Simulator: virtual seconds per wall second. Live: the replay's speed."""
        ...

    def tree(self) -> TreeSource: ...

    def component(self, name: str, action: str) -> str:
        """start / stop / restart a child process (deployer, scaler); returns its new state."""
        ...

    def running_machines(self) -> int:
        """Machines that would be destroyed on a full shutdown."""
        ...

    def close(self, destroy_machines: bool) -> None:
        """Stop children cleanly; destroy machines only if asked."""
        ...
