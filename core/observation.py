"""What the scaler sees each round and what a policy answers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The job queue's depth now and its counters since the start.

    Counters are cumulative so that any observer can take differences over
    its own interval; nothing is lost between two looks.
    """

    ready: int
    in_flight: int
    published: int
    completed: int
    service_s_total: float = 0.0
    response_s_total: float = 0.0


@dataclass(frozen=True, slots=True)
class Observation:
    """One round's view of the system, the only input of a policy.

    Rates and means cover the last interval (``interval_s``); means are None
    when no job finished in it.
    """

    now: float
    interval_s: float
    ready: int
    in_flight: int
    arrival_rate: float
    completion_rate: float
    mean_service_s: float | None
    mean_response_s: float | None
    preparing: int
    booting: int
    running: int
    draining: int
    busy: int

    @property
    def starting(self) -> int:
        """Asked for but not yet serving."""
        return self.preparing + self.booting

    @property
    def total(self) -> int:
        """The seed's fleet size: preparing + booting + running."""
        return self.preparing + self.booting + self.running

    @property
    def backlog(self) -> int:
        """Jobs waiting or being served: the demand on the fleet."""
        return self.ready + self.in_flight


@dataclass(frozen=True, slots=True)
class Decision:
    """A policy's answer: the fleet size it wants, and why."""

    desired: int
    reason: str

    @staticmethod
    def hold(obs: Observation, reason: str = "hold") -> Decision:
        return Decision(obs.total, reason)
