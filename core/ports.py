"""The ports through which the scaler observes and acts.

The simulator implements them in virtual time; the adapters implement them on
RabbitMQ, ZooKeeper and a provider. A policy sees neither: it is handed an
:class:`~imgproc.core.observation.Observation`.
"""

from __future__ import annotations

from typing import Protocol

from imgproc.core.machines import Machine
from imgproc.core.observation import QueueStats


class QueueProbe(Protocol):
    """Reads the job queue's depth and counters."""

    def stats(self) -> QueueStats:
        """Depth (ready, in flight) now and cumulative counters."""
        ...


class MachineView(Protocol):
    """Reads the registry of machines."""

    def machines(self) -> list[Machine]:
        """Every machine not yet destroyed."""
        ...


class Fleet(Protocol):
    """Asks for machines and gives them back."""

    def request_machine(self) -> str:
        """Ask for one more worker machine; returns its id (state preparing)."""
        ...

    def release_machine(self, machine_id: str) -> None:
        """Give a machine back: drained first if it is busy, never killed mid-job."""
        ...
