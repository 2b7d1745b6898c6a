"""queuesize (seed): react to the number of jobs waiting in the queue.

The seed compared the waiting jobs (``ready`` = messages - unacked) with the
previous sample. It added one worker when the queue was long and not
shrinking, but only while no other worker was on its way up, and removed one
when the queue was nearly empty, nothing was already shutting down and more
than one worker was running. One worker per decision, in either direction.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from imgproc.core.observation import Decision, Observation
from imgproc.core.policies.base import PolicyParams, PolicySpec, start_one_if_empty


class QueueSizeParams(PolicyParams):
    up_above: int = Field(
        default=20, ge=0, description="add a worker when more jobs wait (and not fewer than before)"
    )
    down_at_most: int = Field(
        default=5, ge=0, description="remove a worker when at most this many jobs wait"
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> QueueSizeParams:
        if self.down_at_most >= self.up_above:
            raise ValueError(
                f"down_at_most {self.down_at_most} is not below up_above {self.up_above}"
            )
        return self


class QueueSize:
    """One worker up for a long, non-shrinking queue; one down for a short one.

    The first sample is compared with an empty queue, so a long queue seen
    first counts as grown.
    """

    name: ClassVar[str] = "queuesize"

    def __init__(self, params: QueueSizeParams) -> None:
        self.params = params
        self._previous = 0

    def decide(self, obs: Observation) -> Decision:
        previous, self._previous = self._previous, obs.ready
        if (empty := start_one_if_empty(obs)) is not None:
            return empty
        p = self.params
        if obs.ready > p.up_above:
            if obs.ready < previous:
                return Decision.hold(obs, f"queue {obs.ready} shrinking (was {previous})")
            if obs.starting > 0:
                return Decision.hold(obs, f"queue {obs.ready}, {obs.starting} starting: wait")
            return Decision(obs.total + 1, f"queue {obs.ready} > {p.up_above} and not shrinking")
        if obs.ready <= p.down_at_most:
            if obs.draining > 0:
                return Decision.hold(obs, f"queue {obs.ready}, {obs.draining} draining: wait")
            if obs.running <= 1:
                return Decision.hold(obs, f"queue {obs.ready}, keep the last running worker")
            return Decision(obs.total - 1, f"queue {obs.ready} <= {p.down_at_most}")
        return Decision.hold(obs, f"queue {obs.ready} between thresholds")


SPEC = PolicySpec(
    name=QueueSize.name,
    summary="one worker up when the queue is long and growing, down when short (seed)",
    params=QueueSizeParams,
    factory=QueueSize,
)
