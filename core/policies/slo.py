"""slo: size the fleet from a queueing model so that jobs meet a response-time objective.

Reactive policies wait for a long queue or a slow job, then add one worker.
This one estimates what the load needs and asks for all of it at once. Each
round, with ``λ`` the arrival rate, ``S`` the mean service time, ``B = ready +
in_flight`` the jobs in the system (in-flight jobs are demand too) and
``D = boot_delay_s``:

1. Estimates. ``λ`` jumps up to a higher sample at once and falls as an EWMA
   (weight ``smoothing``): bursts are met fast, lulls do not cause flapping.
   ``S`` is an EWMA seeded by the first measurement (``default_service_s``
   until then). Planning uses ``λ' = λ (1 + headroom)``.
2. Steady state (M/M/c, Erlang C): ``base = min_servers(λ', S, slo_s - S,
   quantile)``, the fewest workers whose ``quantile`` of waiting time (its
   mean when ``quantile`` is unset) leaves room for one mean service within
   ``slo_s``. With the default 0.95, about 95 % of jobs should respond within
   ``slo_s``, which is what a p95 measures. When ``S`` alone uses the whole
   objective, the wait budget becomes ``S / 10`` (as in the demand curve of
   ``core.metrics.demand``).
3. Boot delay: a worker asked now serves only after ``D``. In those ``D``
   seconds each running worker serves ``D / S`` jobs and each starting one,
   asked at ``t``, ``(now - t) / S`` (the policy remembers when it asked;
   starting workers it did not ask for count as just asked). The new workers
   find ``B_D = B + λD - served`` jobs.
4. Backlog: with ``c`` workers, jobs in excess drain at ``(c - λS) / S`` per
   second (flow balance), so clearing ``max(B, B_D)`` within
   ``drain_horizon_s`` needs ``drain = ceil(λ'S + max(B, B_D) S /
   drain_horizon_s)`` workers. ``target = max(base, drain, 1)``, or 0 when
   nothing arrives and nothing is queued (the scaler's minimum then applies).
5. Up at once; down only to the highest target of the last
   ``stabilization_s`` seconds and by at most ``down_step`` of the fleet per
   decision. The window's default equals the default boot delay (set them
   together): an idle worker is kept about as long as booting a new one would
   take, the break-even rule of rent-or-buy problems, so a short lull does not
   release the workers that the next burst would have to boot again.
"""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar

from pydantic import Field

from imgproc.core.observation import Decision, Observation
from imgproc.core.policies.base import PolicyParams, PolicySpec
from imgproc.core.queueing import min_servers

#: Service times below this are taken as this, so that rates stay finite.
MIN_SERVICE_S = 1e-3


class SloParams(PolicyParams):
    slo_s: float = Field(default=2.0, gt=0, description="response-time objective (s)")
    quantile: float | None = Field(
        default=0.95, gt=0, lt=1, description="share of jobs to meet it (unset: the mean does)"
    )
    boot_delay_s: float = Field(
        default=30.0, ge=0, description="expected delay from request to serving (s)"
    )
    default_service_s: float = Field(
        default=1.0, gt=0, description="service time assumed until one is measured (s)"
    )
    smoothing: float = Field(
        default=0.5, gt=0, le=1, description="EWMA weight of a new sample (falling rate, service)"
    )
    headroom: float = Field(
        default=0.1, ge=0, description="plan for arrivals this share above the estimate"
    )
    drain_horizon_s: float = Field(
        default=30.0, gt=0, description="clear a backlog within this time (s)"
    )
    stabilization_s: float = Field(
        default=30.0, ge=0, description="scale down only to the highest target of this window (s)"
    )
    down_step: float = Field(
        default=0.5, gt=0, le=1, description="shrink by at most this share of the fleet per round"
    )


class Slo:
    """Workers for the arrival rate under an objective, plus the backlog's drain."""

    name: ClassVar[str] = "slo"

    def __init__(self, params: SloParams) -> None:
        self.params = params
        self._rate: float | None = None
        self._service: float | None = None
        self._targets: deque[tuple[float, int]] = deque()
        self._asked: deque[float] = deque()

    def estimate(self, obs: Observation) -> tuple[float, float]:
        """Step 1: the smoothed arrival rate and service time."""
        a, rate, sample = self.params.smoothing, self._rate, obs.arrival_rate
        self._rate = sample if rate is None or sample > rate else a * sample + (1 - a) * rate
        measured, s = obs.mean_service_s, self._service
        if measured is not None:
            self._service = measured if s is None else a * measured + (1 - a) * s
        service = self.params.default_service_s if self._service is None else self._service
        return self._rate, max(service, MIN_SERVICE_S)

    def served_while_booting(self, obs: Observation, service: float) -> float:
        """Step 3: jobs the fleet serves before a worker asked now is up."""
        asked = list(self._asked)[-obs.starting:] if obs.starting else []
        serving_s = obs.running * self.params.boot_delay_s + sum(obs.now - t for t in asked)
        return serving_s / service

    def target(self, obs: Observation, rate: float, service: float) -> tuple[int, str]:
        """Steps 2 to 4: the workers needed, and why."""
        p = self.params
        if obs.arrival_rate == 0 and obs.backlog == 0:
            return 0, "idle"
        plan = rate * (1 + p.headroom)
        budget = p.slo_s - service if p.slo_s > service else service / 10
        base = min_servers(plan, service, budget, p.quantile)
        found = obs.backlog + rate * p.boot_delay_s - self.served_while_booting(obs, service)
        backlog = max(obs.backlog, found)
        drain = math.ceil(plan * service + backlog * service / p.drain_horizon_s)
        why = f"λ {rate:.1f}/s, S {service:.2f} s: {base} for the SLO"
        if drain > base:
            why = f"{why}, {drain} to clear {backlog:.0f} jobs"
        return max(1, base, drain), why

    def stabilized(self, now: float, target: int, total: int) -> int:
        """Step 5: up at once; down to the window's highest target, in steps."""
        p = self.params
        self._targets.append((now, target))
        while self._targets[0][0] < now - p.stabilization_s:
            self._targets.popleft()
        if target >= total:
            return target
        floor = max(t for _, t in self._targets)
        return min(total, max(floor, total - max(1, math.floor(total * p.down_step))))

    def decide(self, obs: Observation) -> Decision:
        while self._asked and self._asked[0] <= obs.now - self.params.boot_delay_s:
            self._asked.popleft()
        rate, service = self.estimate(obs)
        target, why = self.target(obs, rate, service)
        desired = self.stabilized(obs.now, target, obs.total)
        self._asked.extend([obs.now] * max(0, desired - obs.total))
        if desired == obs.total:
            return Decision.hold(obs, why if target == desired else f"{why}; holding {desired}")
        if desired != target:
            return Decision(desired, f"{why}; stepping down to {desired}")
        return Decision(desired, why)


SPEC = PolicySpec(
    name=Slo.name,
    summary="M/M/c sizing for a response-time objective, plus backlog drain and boot delay",
    params=SloParams,
    factory=Slo,
)
