"""target-tracking: keep the backlog per worker near a target (HPA, KEDA, AWS).

This is how the common autoscalers size a queue consumer, so it is the
baseline the model-based ``slo`` policy must beat. Each round:

1. backlog ``B = ready + in_flight``: jobs being served count as demand, or a
   scale-down would stop busy workers (KEDA's lesson); capacity is every
   worker running or starting (``total``), since the starting ones are coming.
2. raw ``d = B / target_per_worker``; with ``rate_per_worker`` set (KEDA's
   message-rate mode) ``d = max(d, arrival_rate / rate_per_worker)``.
3. tolerance: no change while ``|d / total - 1| <= tolerance``; otherwise the
   recommendation is ``ceil(d)``.
4. scale-down stabilisation: the highest recommendation of the last
   ``stabilization_s`` seconds wins; scale-up takes the recommendation now.
5. rate limits per decision: up by at most ``max(total * up_percent / 100,
   up_workers)``, down by at most ``total * down_percent / 100``.
6. no scale-down while workers are still starting (AWS: a scale-out is under
   way, the metric does not show its effect yet).
"""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar

from pydantic import Field

from imgproc.core.observation import Decision, Observation
from imgproc.core.policies.base import PolicyParams, PolicySpec


class TargetTrackingParams(PolicyParams):
    target_per_worker: float = Field(
        default=10.0, gt=0, description="backlog (jobs) per worker to hold"
    )
    rate_per_worker: float | None = Field(
        default=None, gt=0, description="also size for arrivals: jobs/s per worker (off when unset)"
    )
    tolerance: float = Field(
        default=0.1, ge=0, lt=1, description="no change while demand/total is within this of 1"
    )
    stabilization_s: float = Field(
        default=300.0, ge=0, description="scale down to the highest recommendation of this window"
    )
    up_percent: float = Field(
        default=100.0, gt=0, description="grow by at most this percentage per decision"
    )
    up_workers: int = Field(default=4, ge=1, description="... or by this many, whichever is more")
    down_percent: float = Field(
        default=100.0, gt=0, le=100, description="shrink by at most this percentage per decision"
    )


class TargetTracking:
    """Backlog per worker tracked to a target, with HPA's damping and limits."""

    name: ClassVar[str] = "target-tracking"

    def __init__(self, params: TargetTrackingParams) -> None:
        self.params = params
        self._history: deque[tuple[float, int]] = deque()

    def recommend(self, obs: Observation) -> tuple[int, str]:
        """The raw recommendation (steps 1 to 3) and why."""
        p = self.params
        demand = obs.backlog / p.target_per_worker
        why = f"backlog {obs.backlog} / {p.target_per_worker:g} per worker"
        if p.rate_per_worker is not None and obs.arrival_rate / p.rate_per_worker > demand:
            demand = obs.arrival_rate / p.rate_per_worker
            why = f"arrivals {obs.arrival_rate:.1f}/s / {p.rate_per_worker:g} per worker"
        if obs.total > 0 and abs(demand / obs.total - 1) <= p.tolerance:
            return obs.total, f"{why}: within tolerance"
        return math.ceil(demand), f"{why} -> {math.ceil(demand)}"

    def stabilized(self, now: float, recommendation: int, total: int) -> int:
        """Step 4: up at once; down only to the highest recent recommendation."""
        self._history.append((now, recommendation))
        while self._history[0][0] < now - self.params.stabilization_s:
            self._history.popleft()
        if recommendation >= total:
            return recommendation
        return min(total, max(r for _, r in self._history))

    def limited(self, total: int, desired: int) -> int:
        """Step 5: at most the allowed step in either direction."""
        p = self.params
        up = max(math.ceil(total * p.up_percent / 100), p.up_workers)
        down = math.floor(total * p.down_percent / 100)
        return max(total - down, min(total + up, desired))

    def decide(self, obs: Observation) -> Decision:
        recommendation, why = self.recommend(obs)
        desired = self.limited(obs.total, self.stabilized(obs.now, recommendation, obs.total))
        if desired < obs.total and obs.starting > 0:
            return Decision.hold(obs, f"{why}; {obs.starting} starting: no scale-down")
        if desired > recommendation:
            why = f"{why}; stabilizing at {desired}"
        elif desired < recommendation:
            why = f"{why}; limited to {desired}"
        return Decision(desired, why)


SPEC = PolicySpec(
    name=TargetTracking.name,
    summary="backlog per worker held near a target, damped like the Kubernetes HPA",
    params=TargetTrackingParams,
    factory=TargetTracking,
)
