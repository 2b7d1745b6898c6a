"""queuerate (seed): react to the difference between arrivals and completions.

The seed averaged the queue's incoming and consuming rates over about 30
samples. When jobs arrived faster than they were consumed by more than 1 job/s
it added a worker; when they were consumed faster by more than 1 job/s it
removed one (keeping at least one). It paused 60 s around a stop: a stop waits
until 60 s have passed since the previous action, and nothing happens for 60 s
after it. Here both pauses are cooldowns; the averages keep sampling.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from imgproc.core.observation import Decision, Observation
from imgproc.core.policies.base import PolicyParams, PolicySpec, start_one_if_empty
from imgproc.core.policies.moving_average import MovingAverage, cooling


class QueueRateParams(PolicyParams):
    window: int = Field(default=30, ge=1, description="samples averaged for each rate")
    margin: float = Field(
        default=1.0, ge=0, description="jobs/s by which one rate must exceed the other"
    )
    cooldown_s: float = Field(
        default=60.0,
        ge=0,
        description="hold this long after a stop; no stop this soon after any action",
    )


class QueueRate:
    """One worker up when jobs pile in faster than they leave, down when slower."""

    name: ClassVar[str] = "queuerate"

    def __init__(self, params: QueueRateParams) -> None:
        self.params = params
        self._incoming = MovingAverage(params.window)
        self._consuming = MovingAverage(params.window)
        self._acted_at: float | None = None
        self._stopped_at: float | None = None

    def decide(self, obs: Observation) -> Decision:
        p = self.params
        incoming = self._incoming.add(obs.arrival_rate)
        consuming = self._consuming.add(obs.completion_rate)
        if (empty := start_one_if_empty(obs)) is not None:
            self._acted_at = obs.now
            return empty
        if (left := cooling(obs.now, self._stopped_at, p.cooldown_s)) > 0:
            return Decision.hold(obs, f"cooling down after a stop ({left:.0f} s left)")
        rates = f"in {incoming:.1f}/s, out {consuming:.1f}/s"
        if incoming - consuming > p.margin:
            self._acted_at = obs.now
            return Decision(obs.total + 1, f"{rates}: falling behind")
        if consuming - incoming > p.margin and obs.total > 1:
            if (left := cooling(obs.now, self._acted_at, p.cooldown_s)) > 0:
                return Decision.hold(obs, f"{rates}: stop waits {left:.0f} s")
            self._acted_at = self._stopped_at = obs.now
            return Decision(obs.total - 1, f"{rates}: catching up")
        return Decision.hold(obs, rates)


SPEC = PolicySpec(
    name=QueueRate.name,
    summary="one worker up or down on the difference of arrival and completion rates (seed)",
    params=QueueRateParams,
    factory=QueueRate,
)
