"""The step bound: what no online policy beats on a step it cannot foresee."""

from __future__ import annotations

import numpy as np
import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.core.jobs import Job
from imgproc.core.policies import build_policy, policy_names
from imgproc.core.scaler import ScalerLimits
from imgproc.core.sim.settings import SimSettings
from imgproc.core.sim.simulator import Simulation
from imgproc.core.sim.step_bound import ceiling, share_bound, step_bounds
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


def test_more_machines_never_lower_the_bound_and_enough_reach_the_ceiling():
    trace = generate(make_spec(shape="flash-crowd", duration_s=600, rate=5, seed=3))
    shares = [share_bound(trace, 150.0, c, 30.0, 2.0) for c in range(12)]
    assert shares == sorted(shares)
    bounds = step_bounds(trace, 150.0, 30.0, 2.0, 0.95)
    assert [b.machines for b in bounds] == list(range(len(bounds)))
    assert bounds[-1].share >= 0.95 > bounds[-2].share


def test_a_share_beyond_the_ceiling_stops_at_the_ceiling():
    # Jobs of 3 s after the step are late however many machines there are.
    trace = trace_of((0.0, 0.1), (10.0, 3.0), (10.5, 0.5), (11.0, 3.0))
    assert ceiling(trace, 10.0, 2.0) == pytest.approx(0.5)
    bounds = step_bounds(trace, 10.0, 30.0, 2.0, 0.95)
    assert bounds[-1].share == pytest.approx(0.5)


def test_an_unknown_service_time_or_a_bad_setting_is_refused_with_the_trace_name():
    unknown = trace_of((0.0, 0.1))
    unknown.service_s[0] = np.nan
    with pytest.raises(ConfigurationError, match="trace t"):
        share_bound(unknown, 0.0, 1, 30.0, 2.0)
    with pytest.raises(ConfigurationError, match="objective > 0"):
        share_bound(trace_of((0.0, 0.1)), 0.0, 1, 30.0, 0.0)


@pytest.mark.parametrize("shape,onset", [("flash-crowd", 150.0), ("burst", 60.0)])
@pytest.mark.parametrize("name", policy_names())
def test_no_policy_beats_the_bound_for_the_machines_it_had_at_the_step(shape, onset, name):
    trace = generate(make_spec(shape=shape, duration_s=600, rate=5, seed=2))
    limits = ScalerLimits(interval_s=10.0, min_workers=1)
    record = Simulation(trace, build_policy(name), limits, SimSettings(boot_delay_s=30)).run()
    at_step = sum(1 for m in record.machines if m.requested_at <= onset
                  and (m.released_at is None or m.released_at > onset))
    response = record.jobs.end_s - record.jobs.submit_s
    within = float(np.mean(response <= 2.0))
    assert within <= share_bound(trace, onset, at_step, 30.0, 2.0) + 1e-12
