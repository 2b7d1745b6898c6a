"""time (seed): react to how long jobs take compared with their own work.

The ratio of mean response time (submit to finish) to mean service time is 1
when no job waits. The seed added a worker while it was above 5, removed one
while it was below 2 (keeping at least one) and slept 60 s after a stop; here
that sleep is a cooldown. With no job finished in the interval there is no
ratio, and the policy holds.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from imgproc.core.observation import Decision, Observation
from imgproc.core.policies.base import PolicyParams, PolicySpec, start_one_if_empty
from imgproc.core.policies.moving_average import cooling


class TimeRatioParams(PolicyParams):
    up_above: float = Field(
        default=5.0, ge=1, description="add a worker when response/service is above"
    )
    down_below: float = Field(
        default=2.0, ge=1, description="remove a worker when response/service is below"
    )
    cooldown_s: float = Field(default=60.0, ge=0, description="hold this long after a stop")

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> TimeRatioParams:
        if self.down_below > self.up_above:
            raise ValueError(f"down_below {self.down_below} exceeds up_above {self.up_above}")
        return self


class TimeRatio:
    """One worker up or down on the response-to-service time ratio."""

    name: ClassVar[str] = "time"

    def __init__(self, params: TimeRatioParams) -> None:
        self.params = params
        self._stopped_at: float | None = None

    def decide(self, obs: Observation) -> Decision:
        p = self.params
        if (empty := start_one_if_empty(obs)) is not None:
            return empty
        if (left := cooling(obs.now, self._stopped_at, p.cooldown_s)) > 0:
            return Decision.hold(obs, f"cooling down after a stop ({left:.0f} s left)")
        if obs.mean_response_s is None or not obs.mean_service_s:
            return Decision.hold(obs, "no job finished: no ratio")
        ratio = obs.mean_response_s / obs.mean_service_s
        if ratio > p.up_above:
            return Decision(obs.total + 1, f"response/service {ratio:.1f} > {p.up_above:g}")
        if ratio < p.down_below and obs.total > 1:
            self._stopped_at = obs.now
            return Decision(obs.total - 1, f"response/service {ratio:.1f} < {p.down_below:g}")
        return Decision.hold(obs, f"response/service {ratio:.1f}")


SPEC = PolicySpec(
    name=TimeRatio.name,
    summary="one worker up or down on the response/service time ratio (seed)",
    params=TimeRatioParams,
    factory=TimeRatio,
)
