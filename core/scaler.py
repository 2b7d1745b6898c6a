"""The scaler's loop: observe, decide, cap, act.

One :class:`Scaler` object runs unchanged in the simulator (driven by virtual
time events) and live (driven by :meth:`Scaler.run`, with an injected clock).
A round that fails is logged and skipped; the loop never dies of it. Live, a
round is told whether it may still act (its scaler still leads): asked right
before each command, so a scaler that lost leadership mid-round sends none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator

from imgproc.core.clock import Clock
from imgproc.core.machines import PROVISIONED, STARTING, Machine, MachineState
from imgproc.core.observation import Decision, Observation, QueueStats
from imgproc.core.policies.base import Policy
from imgproc.core.ports import Fleet, MachineView, QueueProbe

log = logging.getLogger(__name__)


class ScalerLimits(BaseModel):
    """Caps applied to every policy's answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_s: float = Field(default=10.0, gt=0, description="seconds between decisions")
    min_workers: int = Field(default=1, ge=0, description="never fewer (preparing+booting+running)")
    max_workers: int = Field(default=50, ge=1, description="never more")
    max_starting: int = Field(default=10, ge=1, description="at most this many preparing/booting")
    up_cooldown_s: float = Field(default=0.0, ge=0, description="no scale-up this soon after one")
    down_cooldown_s: float = Field(
        default=0.0, ge=0, description="no scale-down this soon after any action")

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ScalerLimits:
        if self.min_workers > self.max_workers:
            raise ValueError(f"min_workers {self.min_workers} > max_workers {self.max_workers}")
        return self


@dataclass
class RoundReport:
    """What one round saw, wanted and did."""

    now: float
    observation: Observation | None = None
    decision: Decision | None = None
    started: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    error: str | None = None
    withheld: bool = False  # it stopped acting: its scaler no longer leads

    @property
    def acted(self) -> bool:
        return bool(self.started or self.released)


def release_order(machines: list[Machine]) -> list[Machine]:
    """Which machines to give back first: not-yet-ready, then idle, then busy.

    Within each group the newest goes first. A busy machine is drained (it
    finishes its job), never killed.
    """

    def rank(m: Machine) -> tuple[int, float]:
        if m.state in STARTING:
            group = 0
        elif not m.busy:
            group = 1
        else:
            group = 2
        return (group, -m.requested_at)

    candidates = [
        m for m in machines
        if m.state in PROVISIONED
    ]
    return sorted(candidates, key=rank)


class _RateMeter:
    """Turns cumulative queue counters into per-interval rates and means."""

    def __init__(self) -> None:
        self._last: QueueStats | None = None
        self._last_at: float | None = None

    def measure(self, now: float, stats: QueueStats, fallback_interval: float):
        last, last_at = self._last, self._last_at
        self._last, self._last_at = stats, now
        if last is None or last_at is None or now <= last_at:
            return fallback_interval, 0.0, 0.0, None, None
        span = now - last_at
        arrived = stats.published - last.published
        finished = stats.completed - last.completed
        mean_service = mean_response = None
        if finished > 0:
            mean_service = (stats.service_s_total - last.service_s_total) / finished
            mean_response = (stats.response_s_total - last.response_s_total) / finished
        return span, arrived / span, finished / span, mean_service, mean_response


class Scaler:
    """Observes through the ports, asks the policy, caps its answer, acts."""

    def __init__(
        self,
        policy: Policy,
        queue: QueueProbe,
        machines: MachineView,
        fleet: Fleet,
        clock: Clock,
        limits: ScalerLimits | None = None,
    ) -> None:
        self.policy = policy
        self.queue = queue
        self.machines = machines
        self.fleet = fleet
        self.clock = clock
        self.limits = limits or ScalerLimits()
        self._rates = _RateMeter()
        self._last_up: float | None = None
        self._last_action: float | None = None

    def set_policy(self, policy: Policy) -> None:
        """Switch policy between rounds (live reconfiguration)."""
        self.policy = policy

    def observe(self, now: float) -> tuple[Observation, list[Machine]]:
        stats = self.queue.stats()
        machines = self.machines.machines()
        span, arrival_rate, completion_rate, mean_service, mean_response = self._rates.measure(
            now, stats, self.limits.interval_s
        )
        counts = {state: 0 for state in MachineState}
        for m in machines:
            counts[m.state] += 1
        busy = sum(1 for m in machines if m.busy)
        obs = Observation(
            now=now, interval_s=span, ready=stats.ready, in_flight=stats.in_flight,
            arrival_rate=arrival_rate, completion_rate=completion_rate,
            mean_service_s=mean_service, mean_response_s=mean_response,
            preparing=counts[MachineState.PREPARING], booting=counts[MachineState.BOOTING],
            running=counts[MachineState.RUNNING], draining=counts[MachineState.DRAINING],
            busy=busy,
        )
        return obs, machines

    def capped(self, obs: Observation, desired: int) -> int:
        """Apply min/max, the limit on machines starting at once, and cooldowns."""
        lim = self.limits
        target = max(lim.min_workers, min(lim.max_workers, desired))
        if target > obs.total:
            if self._cooling(obs.now, self._last_up, lim.up_cooldown_s):
                return obs.total
            room = max(0, lim.max_starting - obs.starting)
            return obs.total + min(room, target - obs.total)
        if target < obs.total and self._cooling(obs.now, self._last_action, lim.down_cooldown_s):
            return obs.total
        return target

    @staticmethod
    def _cooling(now: float, since: float | None, cooldown: float) -> bool:
        return since is not None and now - since < cooldown

    def run_once(self, may_act: Callable[[], bool] = lambda: True,
                 now: float | None = None) -> RoundReport:
        """One round, as of ``now`` (by default the clock's); an error is caught, logged and
        reported, never raised. ``may_act`` is asked right before each command: once it
        says no, the round sends no more."""
        now = self.clock.now() if now is None else now
        report = RoundReport(now=now)
        try:
            obs, machines = self.observe(now)
            report.observation = obs
            report.decision = self.policy.decide(obs)
            target = self.capped(obs, report.decision.desired)
            self._act(obs, machines, target, _Permit(may_act, report))
        except Exception as exc:  # one bad round must not stop scaling
            report.error = f"{type(exc).__name__}: {exc}"
            log.warning("scaler round at %.1f skipped: %s", now, report.error, exc_info=True)
        return report

    def _act(self, obs: Observation, machines: list[Machine], target: int,
             permit: _Permit) -> None:
        report = permit.report
        if target > obs.total:
            for _ in range(target - obs.total):
                if not permit.granted():
                    break
                report.started.append(self.fleet.request_machine())
            if report.started:
                self._last_up = self._last_action = obs.now
        elif target < obs.total:
            for machine in release_order(machines)[: obs.total - target]:
                if not permit.granted():
                    break
                self.fleet.release_machine(machine.id)
                report.released.append(machine.id)
            if report.released:
                self._last_action = obs.now


@dataclass
class _Permit:
    """Asks, before each command of a round, whether the scaler may still act."""

    may_act: Callable[[], bool]
    report: RoundReport

    def granted(self) -> bool:
        if self.may_act():
            return True
        if not self.report.withheld:
            log.warning("round at %.1f sends no more commands: its scaler no longer leads",
                        self.report.now)
        self.report.withheld = True
        return False
