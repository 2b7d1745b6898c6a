"""The step bound: what no online policy beats on a step it cannot foresee."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.core.jobs import Job
from imgproc.core.policies import build_policy, policy_names
from imgproc.core.scaler import ScalerLimits
from imgproc.core.sim.costs import LiveCosts
from imgproc.core.sim.settings import SimSettings
from imgproc.core.sim.simulator import Simulation
from imgproc.core.sim.step_bound import StepBound, share_bound, step_bounds
from imgproc.core.trace import Trace
from imgproc.core.workload_gen import generate, make_spec


def trace_of(*jobs: tuple[float, float]) -> Trace:
    return Trace.from_jobs("t", [Job(f"j{i}", at, s) for i, (at, s) in enumerate(jobs)])


def test_jobs_of_the_step_queue_on_the_machines_there_until_the_new_ones_serve():
    # Four jobs before the step, all counted within; from the step at 10 s, one job of
    # 1 s every 0.5 s; new machines serve from 10 + 5 = 15 s, and a job that waits for
    # them is within if it arrived at 14 s or later (1 s wait, 1 s service).
    before = [(float(t), 0.1) for t in range(4)]
    step = [(10 + 0.5 * k, 1.0) for k in range(14)]  # 10.0 ... 16.5
    trace = trace_of(*before, *step)
    # One machine starts the jobs at 10, 11, 12, 13, 14 (responses 1, 1.5, 2, 2.5, 3 s),
    # then the new ones are as soon: from 12.5 s on, jobs start at 15 s. Late: 11.5 to
    # 13.5, five jobs.
    assert share_bound(trace, 10.0, 1, 5.0, 2.0) == pytest.approx(1 - 5 / 18)
    # No machine: the jobs from 10.0 to 13.5 wait for 15 s, eight late.
    assert share_bound(trace, 10.0, 0, 5.0, 2.0) == pytest.approx(1 - 8 / 18)


def test_more_machines_never_lower_the_bound_and_the_fewest_that_reach_the_share_are_found():
    trace = generate(make_spec(shape="flash-crowd", duration_s=600, rate=5, seed=3))
    shares = [share_bound(trace, 150.0, c, 30.0, 2.0) for c in range(14)]
    assert shares == sorted(shares)
    fewest = next(c for c, share in enumerate(shares) if share >= 0.95)
    bounds = step_bounds(trace, 150.0, 30.0, 2.0, 0.95)
    assert [b.machines for b in bounds][-2:] == [fewest - 1, fewest]
    assert all(b.share == shares[b.machines] for b in bounds)


def test_a_share_beyond_reach_stops_at_the_fewest_machines_that_give_the_most():
    # Jobs of 3 s after the step are late however many machines there are: at most half,
    # with a second machine for the job of 0.5 s, which would wait 2.5 s for the first.
    trace = trace_of((0.0, 0.1), (10.0, 3.0), (10.5, 0.5), (11.0, 3.0))
    bounds = step_bounds(trace, 10.0, 30.0, 2.0, 0.95)
    assert [(b.machines, b.share) for b in bounds] == [(0, 0.25), (1, 0.25), (2, 0.5)]
    assert share_bound(trace, 10.0, 3, 30.0, 2.0) == 0.5


def test_a_step_after_the_last_job_needs_no_machine():
    trace = trace_of((0.0, 0.1), (1.0, 0.1))
    assert step_bounds(trace, 5.0, 30.0, 2.0, 0.95) == [StepBound(0, 1.0)]


def test_a_response_equal_to_the_objective_is_within_whatever_the_rounding():
    # 49.544 + 0.899 + 1.101 - 49.544 is 2.000000000000001 in floating point; the
    # simulator, which adds and removes a job's overhead, finds 2.0: within.
    trace = trace_of((49.544, 0.899), (49.544, 1.101))
    assert share_bound(trace, 49.544, 1, 30.0, 2.0) == 1.0


def test_an_unknown_service_time_or_a_bad_setting_is_refused_with_the_trace_name():
    unknown = trace_of((0.0, 0.1))
    unknown.service_s[0] = np.nan
    with pytest.raises(ConfigurationError, match="trace t: some jobs have no service_s"):
        share_bound(unknown, 0.0, 1, 30.0, 2.0)
    for machines, boot, slo in ((-1, 30.0, 2.0), (1, math.nan, 2.0), (1, 30.0, 0.0),
                                (1, 30.0, math.inf)):
        with pytest.raises(ConfigurationError, match="trace t: expected machines >= 0"):
            share_bound(trace_of((0.0, 0.1)), 0.0, machines, boot, slo)


COSTS = LiveCosts(start_s=2.0, start_per_concurrent_s=0.5, dispatch_s=0.013,
                  job_overhead_s=0.0371, stop_s=1.0)


@pytest.mark.parametrize("settings", [
    SimSettings(boot_delay_s=30),
    SimSettings(boot_delay_s=30, warm_start=False, boot_jitter_s=4, seed=5, costs=COSTS),
], ids=["clean", "cold-with-costs"])
@pytest.mark.parametrize("shape,onset", [("flash-crowd", 150.0), ("burst", 60.0)])
@pytest.mark.parametrize("name", policy_names())
def test_no_policy_beats_the_bound_for_the_machines_it_had_at_the_step(shape, onset, name,
                                                                       settings):
    trace = generate(make_spec(shape=shape, duration_s=600, rate=5, seed=2))
    limits = ScalerLimits(interval_s=10.0, min_workers=1)
    record = Simulation(trace, build_policy(name), limits, settings).run()
    at_step = sum(1 for m in record.machines if m.requested_at <= onset
                  and (m.released_at is None or m.released_at > onset))
    response = record.jobs.end_s - record.jobs.submit_s
    within = float(np.mean(response <= 2.0))
    assert within <= share_bound(trace, onset, at_step, 30.0, 2.0)
