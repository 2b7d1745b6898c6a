"""The simulator with a profile adds what the live system costs: a worker's start beyond
its boot delay (longer when several start at once), a job's way to an idle worker, and a
worker's time between two jobs; without one it is the clean model."""

from __future__ import annotations

import pytest

from imgproc.core.jobs import Job
from imgproc.core.observation import Decision, Observation
from imgproc.core.scaler import ScalerLimits
from imgproc.core.sim.costs import LiveCosts, Profile
from imgproc.core.sim.settings import SimSettings
from imgproc.core.sim.simulator import Simulation
from imgproc.core.trace import Trace


class Wants:
    name = "wants"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def decide(self, obs: Observation) -> Decision:
        return Decision(self.workers, "fixed")


def trace_of(*jobs: tuple[float, float]) -> Trace:
    return Trace.from_jobs("t", [Job(f"j{i}", at, s) for i, (at, s) in enumerate(jobs)])


def run(trace: Trace, workers: int, costs: LiveCosts, boot: float = 30.0):
    limits = ScalerLimits(interval_s=10.0, min_workers=0, max_starting=workers)
    settings = SimSettings(boot_delay_s=boot, costs=costs)
    return Simulation(trace, Wants(workers), limits, settings).run()


def test_a_profile_is_measured_in_wall_seconds_and_costs_speed_times_as_many_trace_seconds():
    profile = Profile(name="p", start_s=0.5, start_per_concurrent_s=0.1, dispatch_s=0.003,
                      job_overhead_s=0.002, stop_s=0.4)

    costs = profile.at_speed(10.0)

    assert costs.start_s == pytest.approx(5.0)
    assert costs.start_per_concurrent_s == pytest.approx(1.0)
    assert costs.dispatch_s == pytest.approx(0.03)
    assert costs.job_overhead_s == pytest.approx(0.02)
    assert costs.stop_s == pytest.approx(4.0)
    assert costs.start(1) == pytest.approx(5.0) and costs.start(4) == pytest.approx(8.0)


def test_workers_asked_for_together_start_together_each_later_than_one_alone():
    costs = LiveCosts(start_s=2.0, start_per_concurrent_s=1.0)

    alone = run(trace_of((40.0, 1.0)), 1, costs)
    three = run(trace_of((40.0, 1.0)), 3, costs)

    assert [m.ready_at for m in alone.machines] == [pytest.approx(32.0)]
    assert [m.ready_at for m in three.machines] == [pytest.approx(34.0)] * 3


def test_a_job_finding_an_idle_worker_starts_after_the_dispatch():
    record = run(trace_of((50.0, 2.0)), 1, LiveCosts(dispatch_s=0.5))

    assert record.jobs.start_s[0] == pytest.approx(50.5)
    assert record.jobs.end_s[0] == pytest.approx(52.5)


def test_a_busy_worker_takes_its_next_job_the_overhead_after_the_last_one_ended():
    record = run(trace_of((40.0, 2.0), (40.0, 2.0), (40.0, 2.0)), 1,
                 LiveCosts(job_overhead_s=0.25), boot=0.0)

    assert list(record.jobs.end_s) == pytest.approx([42.0, 44.25, 46.5])
    assert list(record.jobs.start_s) == pytest.approx([40.0, 42.25, 44.5])


def test_a_released_worker_is_billed_until_its_stop_is_over():
    record = run(trace_of((40.0, 2.0)), 1, LiveCosts(stop_s=3.0))

    [machine] = record.machines
    assert machine.released_at == pytest.approx(record.duration_s + 3.0)


def test_without_costs_the_simulator_is_the_clean_model():
    record = run(trace_of((40.0, 2.0), (40.0, 2.0)), 1, LiveCosts())

    assert list(record.jobs.start_s) == [40.0, 42.0]
    assert record.machines[0].ready_at == 30.0
