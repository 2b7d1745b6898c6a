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
2. Steady state (M/M/c, Erlang C, corrected for variability): ``base =
   min_servers(λ', S, (slo_s - S) / v, quantile)``, the fewest workers whose
   ``quantile`` of waiting time (its mean when ``quantile`` is unset) leaves
   room for one mean service within ``slo_s``. ``v = (ca² + cs²) / 2`` is the
   Allen-Cunneen factor (waits scale with it against M/M/c's), learned over
   ``window_s`` (``core.policies.slo_estimates``) and kept within [0.05, 1]:
   a load smoother than Poisson needs fewer workers, a burstier one is left to
   the rate estimate and the backlog term (a step in the rate would otherwise
   read as burstiness and buy workers for a whole window). ``variability``
   off: ``v = 1``. With the default quantile 0.95, about 95 % of jobs should
   respond within ``slo_s``, which is what a p95 measures. When ``S`` alone
   uses the whole objective, the wait budget becomes ``S / 10`` (as in the
   demand curve of ``core.metrics.demand``).
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
   A smooth load (``(ca² + cs²) / 2`` at most 0.02 before the clamp of step 2:
   jobs at regular times and of nearly one length) is sized as a fluid
   instead: the fewest workers ``c`` (at least 1) whose backlog after
   ``h = D + interval`` (the soonest a correction can serve),
   ``max(0, B + (λ - c / S) h)``, waits at most the budget: ``S`` times it over
   ``c``. Steady-state models need ``c > λS``; a load of exactly one worker
   (the seed's normal trace, utilisation 1.0003) then gets two, where one does
   until its slowly growing backlog calls for a second.
5. Up at once; down only to the highest target of the last
   ``stabilization_s`` seconds and by at most ``down_step`` of the fleet per
   decision. Together with the rate's slow fall (step 1) this is the delay
   before an idle worker goes (DelayedOff): the rent-or-buy break-even would
   keep it for a boot delay (30 s), but the falling EWMA already holds the
   workers for a few rounds, and one round (10 s) on top measured 4-8 % cheaper
   than 30 s on most workloads for at most 0.2 points of jobs within the
   objective (docs/policies.md).
6. Periodic steps (``predict_onsets``): a round whose arrival rate at least
   doubles against the rounds of the last ``D`` is an onset; once three
   onsets are evenly spaced (within 15 %), from ``D`` plus two intervals
   before the next one is due until ``D`` after it, the target is at least
   the highest the last onset led to. A step that recurs (on-off loads, cron
   jobs) then finds its workers ready; a one-off step (a flash crowd) cannot
   be foreseen and is met by steps 1 to 4 a boot delay late.
"""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar

from pydantic import Field

from imgproc.core.observation import Decision, Observation
from imgproc.core.policies.base import PolicyParams, PolicySpec
from imgproc.core.policies.slo_estimates import MIN_SAMPLES, Onsets, Variability
from imgproc.core.queueing import min_servers

#: Service times below this are taken as this, so that rates stay finite.
MIN_SERVICE_S = 1e-3
#: The Allen-Cunneen factor is taken as at least this: never size as if there were no
#: randomness at all.
MIN_VARIABILITY = 0.05
#: At or below this Allen-Cunneen factor the load is smooth: sized as a fluid.
SMOOTH_VARIABILITY = 0.02


def fluid_servers(rate: float, service: float, backlog: float, max_wait_s: float,
                  horizon_s: float) -> int:
    """Fewest workers (at least 1) whose backlog, growing or draining as a fluid for
    ``horizon_s``, then waits at most ``max_wait_s``."""
    c = 1
    while max(0.0, backlog + (rate - c / service) * horizon_s) * service / c > max_wait_s:
        c += 1
    return c


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
        default=10.0, ge=0, description="scale down only to the highest target of this window (s)"
    )
    down_step: float = Field(
        default=0.5, gt=0, le=1, description="shrink by at most this share of the fleet per round"
    )
    variability: bool = Field(
        default=True, description="learn arrival and service variability (Allen-Cunneen, "
        "at most M/M/c's); off: M/M/c's Poisson and exponential"
    )
    window_s: float = Field(
        default=300.0, gt=0, description="learn the variability over this window (s)"
    )
    predict_onsets: bool = Field(
        default=True, description="ask a boot delay early for a step up of the load "
        "that recurs with a period"
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
        self._variability: Variability | None = None
        self._onsets = Onsets(quiet_s=params.boot_delay_s or params.window_s)

    def learn(self, obs: Observation) -> float:
        """The Allen-Cunneen factor ``(ca² + cs²) / 2`` (1 for M/M/c)."""
        if not self.params.variability:
            return 1.0
        if self._variability is None:
            rounds = max(MIN_SAMPLES, round(self.params.window_s / obs.interval_s))
            self._variability = Variability(rounds)
        completed = round(obs.completion_rate * obs.interval_s)
        self._variability.add(obs.arrival_rate * obs.interval_s, obs.mean_service_s, completed)
        return (self._variability.arrivals_scv() + self._variability.service_scv()) / 2

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

    def target(self, obs: Observation, rate: float, service: float,
               factor: float = 1.0) -> tuple[int, str]:
        """Steps 2 to 4: the workers needed, and why."""
        p = self.params
        if obs.arrival_rate == 0 and obs.backlog == 0:
            return 0, "idle"
        plan = rate * (1 + p.headroom)
        budget = p.slo_s - service if p.slo_s > service else service / 10
        variability = min(1.0, max(MIN_VARIABILITY, factor))
        base = min_servers(plan, service, budget / variability, p.quantile)
        found = obs.backlog + rate * p.boot_delay_s - self.served_while_booting(obs, service)
        backlog = max(obs.backlog, found)
        drain = math.ceil(plan * service + backlog * service / p.drain_horizon_s)
        if factor <= SMOOTH_VARIABILITY:
            horizon = p.boot_delay_s + obs.interval_s
            fluid = fluid_servers(rate, service, obs.backlog, budget, horizon)
            return fluid, f"λ {rate:.1f}/s, S {service:.2f} s, smooth: {fluid} as a fluid"
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

    def ahead(self, obs: Observation, target: int, why: str) -> tuple[int, str]:
        """Step 6: at least what the last step up needed, when the next is due."""
        if not self.params.predict_onsets:
            return target, why
        self._onsets.add(obs.now, obs.arrival_rate, target)
        lead = self.params.boot_delay_s + 2 * obs.interval_s
        expected = self._onsets.expected(obs.now, lead)
        if expected > target:
            return expected, f"{why}; {expected} ready for the periodic step up"
        return target, why

    def decide(self, obs: Observation) -> Decision:
        while self._asked and self._asked[0] <= obs.now - self.params.boot_delay_s:
            self._asked.popleft()
        rate, service = self.estimate(obs)
        target, why = self.target(obs, rate, service, self.learn(obs))
        target, why = self.ahead(obs, target, why)
        desired = self.stabilized(obs.now, target, obs.total)
        self._asked.extend([obs.now] * max(0, desired - obs.total))
        if desired == obs.total:
            return Decision.hold(obs, why if target == desired else f"{why}; holding {desired}")
        if desired != target:
            return Decision(desired, f"{why}; stepping down to {desired}")
        return Decision(desired, why)


SPEC = PolicySpec(
    name=Slo.name,
    summary="queueing-model sizing for a response-time objective, plus backlog drain, boot "
    "delay and periodic steps foreseen",
    params=SloParams,
    factory=Slo,
)
