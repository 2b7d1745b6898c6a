"""The scaler's loop: observe, decide, cap, act; one bad round never stops it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError

from imgproc.core.clock import ManualClock
from imgproc.core.machines import Machine, MachineState
from imgproc.core.observation import Decision, Observation, QueueStats
from imgproc.core.scaler import Scaler, ScalerLimits, release_order

S = MachineState


@dataclass
class RecordingFleet:
    """An in-memory queue probe, machine view and fleet that records what it was asked."""

    stats_value: QueueStats = field(default_factory=lambda: QueueStats(0, 0, 0, 0))
    fleet: list[Machine] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def stats(self) -> QueueStats:
        return self.stats_value

    def machines(self) -> list[Machine]:
        return list(self.fleet)

    def request_machine(self) -> str:
        machine_id = f"m{len(self.requested) + 1}"
        self.requested.append(machine_id)
        return machine_id

    def release_machine(self, machine_id: str) -> None:
        self.released.append(machine_id)


class WantsFixed:
    name = "fixed"

    def __init__(self, desired: int) -> None:
        self.desired = desired
        self.seen: list[Observation] = []

    def decide(self, obs: Observation) -> Decision:
        self.seen.append(obs)
        return Decision(self.desired, "fixed")


class Explodes:
    name = "explodes"

    def decide(self, obs: Observation) -> Decision:
        raise RuntimeError("boom")


def machine(mid: str, state: S, requested_at: float = 0.0, job: str | None = None) -> Machine:
    return Machine(mid, state, requested_at, requested_at, current_job=job)


def scaler_for(policy, world: RecordingFleet, clock=None, **limits) -> Scaler:
    return Scaler(policy, world, world, world, clock or ManualClock(), ScalerLimits(**limits))


def test_scales_up_to_the_policys_answer():
    world = RecordingFleet()
    report = scaler_for(WantsFixed(3), world).run_once()
    assert world.requested == ["m1", "m2", "m3"]
    assert report.started == ["m1", "m2", "m3"] and report.acted


def test_never_goes_above_max_workers_or_below_min_workers():
    world = RecordingFleet()
    scaler_for(WantsFixed(100), world, max_workers=4, max_starting=10).run_once()
    assert len(world.requested) == 4
    world = RecordingFleet(fleet=[machine("a", S.RUNNING), machine("b", S.RUNNING)])
    scaler_for(WantsFixed(0), world, min_workers=2).run_once()
    assert world.released == []


def test_limits_how_many_machines_start_at_once():
    world = RecordingFleet(fleet=[machine("a", S.BOOTING), machine("b", S.PREPARING)])
    scaler_for(WantsFixed(10), world, max_starting=3).run_once()
    assert len(world.requested) == 1


def test_scale_down_releases_starting_then_idle_then_busy_machines():
    fleet = [
        machine("busy", S.RUNNING, 1.0, job="j1"),
        machine("idle-old", S.RUNNING, 2.0),
        machine("idle-new", S.RUNNING, 3.0),
        machine("booting", S.BOOTING, 4.0),
    ]
    world = RecordingFleet(fleet=fleet)
    scaler_for(WantsFixed(1), world).run_once()
    assert world.released == ["booting", "idle-new", "idle-old"]


def test_release_order_ignores_machines_already_going_away():
    fleet = [machine("d", S.DRAINING), machine("x", S.DESTROYING), machine("r", S.RUNNING)]
    assert [m.id for m in release_order(fleet)] == ["r"]


def test_a_failing_policy_skips_the_round_and_the_next_round_runs():
    world = RecordingFleet()
    scaler = scaler_for(Explodes(), world)
    report = scaler.run_once()
    assert report.error == "RuntimeError: boom"
    assert world.requested == []
    scaler.set_policy(WantsFixed(2))
    assert scaler.run_once().started == ["m1", "m2"]


def test_rates_come_from_counter_differences_over_the_interval():
    clock = ManualClock()
    world = RecordingFleet(stats_value=QueueStats(0, 0, published=0, completed=0))
    policy = WantsFixed(0)
    scaler = scaler_for(policy, world, clock)
    scaler.run_once()
    clock.advance(10)
    world.stats_value = QueueStats(5, 2, published=50, completed=20, service_s_total=4.0,
                                   response_s_total=10.0)
    scaler.run_once()
    obs = policy.seen[-1]
    assert obs.arrival_rate == pytest.approx(5.0)
    assert obs.completion_rate == pytest.approx(2.0)
    assert obs.mean_service_s == pytest.approx(0.2)
    assert obs.mean_response_s == pytest.approx(0.5)
    assert obs.backlog == 7


def test_cooldown_after_scale_up_holds_further_scale_up():
    clock = ManualClock()
    world = RecordingFleet()
    scaler = scaler_for(WantsFixed(1), world, clock, up_cooldown_s=60)
    scaler.run_once()
    world.fleet = [machine("m1", S.BOOTING)]
    scaler.policy = WantsFixed(3)
    clock.advance(30)
    assert scaler.run_once().started == []
    clock.advance(31)
    assert len(scaler.run_once().started) == 2


def test_limits_reject_a_minimum_above_the_maximum():
    with pytest.raises(ValidationError, match="min_workers 5 > max_workers 2"):
        ScalerLimits(min_workers=5, max_workers=2)
