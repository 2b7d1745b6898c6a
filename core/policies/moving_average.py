"""moving-average-queue-size (seed): react to the queue's average length.

Averaging the waiting jobs over the last samples ignores a single spike. The
seed added one worker while the average was above 5 and removed one while it
was below 2 (keeping at least one), then slept 60 s after a stop so that the
fleet could settle. Here that sleep is a cooldown: the policy keeps sampling
but holds until the cooldown has passed.

:class:`MovingAverage` and :func:`cooling` are shared with the queuerate and
time policies.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from pydantic import Field, model_validator

from imgproc.core.observation import Decision, Observation
from imgproc.core.policies.base import PolicyParams, PolicySpec, start_one_if_empty


class MovingAverage:
    """The mean of the last ``size`` values added (or of fewer, at the start)."""

    def __init__(self, size: int) -> None:
        self._values: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> float:
        """Add a value and return the new mean."""
        self._values.append(value)
        return sum(self._values) / len(self._values)


def cooling(now: float, since: float | None, seconds: float) -> float:
    """Seconds of cooldown left after an event at ``since`` (0 when none)."""
    if since is None:
        return 0.0
    return max(0.0, since + seconds - now)


class MovingAverageParams(PolicyParams):
    window: int = Field(default=10, ge=1, description="samples averaged (one per decision)")
    up_above: float = Field(default=5.0, ge=0, description="add a worker when the average is above")
    down_below: float = Field(
        default=2.0, ge=0, description="remove a worker when the average is below"
    )
    cooldown_s: float = Field(default=60.0, ge=0, description="hold this long after a stop")

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> MovingAverageParams:
        if self.down_below > self.up_above:
            raise ValueError(f"down_below {self.down_below} exceeds up_above {self.up_above}")
        return self


class MovingAverageQueueSize:
    """One worker up or down on the moving average of the waiting jobs."""

    name: ClassVar[str] = "moving-average-queue-size"

    def __init__(self, params: MovingAverageParams) -> None:
        self.params = params
        self._average = MovingAverage(params.window)
        self._stopped_at: float | None = None

    def decide(self, obs: Observation) -> Decision:
        p = self.params
        average = self._average.add(obs.ready)
        if (empty := start_one_if_empty(obs)) is not None:
            return empty
        if (left := cooling(obs.now, self._stopped_at, p.cooldown_s)) > 0:
            return Decision.hold(obs, f"cooling down after a stop ({left:.0f} s left)")
        if average > p.up_above:
            return Decision(obs.total + 1, f"average queue {average:.1f} > {p.up_above:g}")
        if average < p.down_below and obs.total > 1:
            self._stopped_at = obs.now
            return Decision(obs.total - 1, f"average queue {average:.1f} < {p.down_below:g}")
        return Decision.hold(obs, f"average queue {average:.1f}")


SPEC = PolicySpec(
    name=MovingAverageQueueSize.name,
    summary="one worker up or down on the moving average of the queue (seed)",
    params=MovingAverageParams,
    factory=MovingAverageQueueSize,
)
