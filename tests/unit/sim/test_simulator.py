"""The simulator runs the real scaler in virtual time and loses no job."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.core.jobs import Job
from imgproc.core.observation import Decision, Observation
from imgproc.core.policies import build_policy
from imgproc.core.scaler import ScalerLimits
from imgproc.core.sim.settings import SimSettings
from imgproc.core.sim.simulator import Simulation
from imgproc.core.trace import Trace
from imgproc.core.workload_gen import generate, make_spec


def trace_of(*jobs: tuple[float, float]) -> Trace:
    return Trace.from_jobs("t", [Job(f"j{i}", at, s) for i, (at, s) in enumerate(jobs)])


class Scripted:
    """Wants ``plan[t]`` workers from virtual time t on (the last key not after now)."""

    name = "scripted"

    def __init__(self, plan: dict[float, int]) -> None:
        self.plan = sorted(plan.items())

    def decide(self, obs: Observation) -> Decision:
        wanted = [n for t, n in self.plan if t <= obs.now][-1]
        return Decision(wanted, "scripted")


def run(trace, policy, boot=30.0, interval=10.0, min_workers=0, **sim):
    limits = ScalerLimits(interval_s=interval, min_workers=min_workers)
    return Simulation(trace, policy, limits, SimSettings(boot_delay_s=boot, **sim)).run()


def test_a_job_waits_for_the_first_machine_to_boot():
    record = run(trace_of((5.0, 2.0)), Scripted({0: 1}))
    assert record.jobs.start_s[0] == pytest.approx(30.0)
    assert record.jobs.end_s[0] == pytest.approx(32.0)
    assert record.duration_s == pytest.approx(32.0)


def test_vm_time_is_billed_from_the_request_to_the_release():
    record = run(trace_of((5.0, 2.0)), Scripted({0: 1}), release_delay_s=3.0)
    [span] = record.machines
    assert span.requested_at == 0.0 and span.ready_at == 30.0
    assert span.released_at == pytest.approx(35.0)


def test_jobs_are_served_first_come_first_served_one_at_a_time():
    record = run(trace_of((0.0, 4.0), (1.0, 1.0), (2.0, 1.0)), Scripted({0: 1}), boot=0.0)
    assert list(record.jobs.start_s) == [0.0, 4.0, 5.0]
    assert list(record.jobs.end_s) == [4.0, 5.0, 6.0]


def test_a_busy_machine_told_to_go_finishes_its_job_first():
    trace = trace_of((0.0, 25.0), (1.0, 1.0))
    record = run(trace, Scripted({0: 2, 10: 0}), boot=0.0)
    assert not np.isnan(record.jobs.end_s).any()
    assert record.jobs.end_s[0] == pytest.approx(25.0)
    busy = max(record.machines, key=lambda m: m.released_at)
    assert busy.released_at == pytest.approx(25.0)


def test_every_job_completes_and_vm_time_covers_the_work():
    rng = np.random.default_rng(3)
    arrivals = np.cumsum(rng.exponential(0.2, 2000))
    services = rng.exponential(0.3, 2000)
    trace = Trace("r", [f"j{i}" for i in range(2000)], arrivals, services, ["u"] * 2000)
    record = run(trace, build_policy("constantsize", {"size": 3}))
    assert not np.isnan(record.jobs.end_s).any()
    vm_seconds = sum(m.released_at - m.requested_at for m in record.machines)
    assert vm_seconds >= services.sum()
    assert (record.jobs.end_s - record.jobs.start_s == pytest.approx(services))


def test_same_trace_policy_and_seed_give_the_same_numbers():
    trace = trace_of(*[(i * 0.5, 1.5) for i in range(200)])
    a = run(trace, build_policy("constantsize"), boot_jitter_s=20.0, seed=7)
    b = run(trace, build_policy("constantsize"), boot_jitter_s=20.0, seed=7)
    c = run(trace, build_policy("constantsize"), boot_jitter_s=20.0, seed=8)
    assert np.array_equal(a.jobs.end_s, b.jobs.end_s)
    assert [m.ready_at for m in a.machines] == [m.ready_at for m in b.machines]
    assert [m.ready_at for m in a.machines] != [m.ready_at for m in c.machines]


def test_the_time_series_has_one_row_per_second_and_counts_every_job():
    trace = trace_of(*[(i * 0.25, 0.2) for i in range(40)])
    record = run(trace, Scripted({0: 1}), boot=0.0)
    series = record.series
    assert np.all(np.diff(series.column("t")) <= 1.0 + 1e-9)
    assert series.column("arrivals").sum() == 40
    assert series.column("completions").sum() == 40


def test_a_trace_without_service_times_is_refused_with_its_name():
    trace = trace_of((0.0, 1.0))
    trace.service_s[0] = math.nan
    with pytest.raises(ConfigurationError, match="trace t: some jobs have no service_s"):
        Simulation(trace, Scripted({0: 1}))


def test_a_policy_that_never_starts_a_machine_ends_with_lost_jobs():
    record = run(trace_of((0.0, 1.0)), Scripted({0: 0}), max_overrun_s=100.0)
    assert np.isnan(record.jobs.end_s[0])
    assert record.duration_s > 100.0


def test_an_empty_trace_finishes_at_once():
    record = run(trace_of(), Scripted({0: 1}))
    assert record.duration_s == 0.0 and len(record.jobs.end_s) == 0


def test_a_warm_start_has_min_workers_running_and_idle_at_zero():
    limits = ScalerLimits(interval_s=10.0, min_workers=2)
    trace = trace_of((0.0, 1.0), (0.0, 1.0))
    record = Simulation(trace, Scripted({0: 0}), limits, SimSettings(boot_delay_s=30.0)).run()
    assert list(record.jobs.start_s) == [0.0, 0.0]
    assert [(m.requested_at, m.ready_at) for m in record.machines] == [(0.0, 0.0)] * 2


def test_a_cold_start_has_the_first_round_ask_for_min_workers_which_then_boot():
    limits = ScalerLimits(interval_s=10.0, min_workers=2)
    trace = trace_of((0.0, 1.0), (0.0, 1.0))
    settings = SimSettings(boot_delay_s=30.0, warm_start=False)
    record = Simulation(trace, Scripted({0: 0}), limits, settings).run()
    assert list(record.jobs.start_s) == [30.0, 30.0]
    assert [(m.requested_at, m.ready_at) for m in record.machines] == [(0.0, 30.0)] * 2


@pytest.mark.parametrize("step_s", [0.7, 13.0])
def test_a_run_advanced_in_steps_gives_the_record_of_one_run(step_s):
    """The console advances a run a slice at a time; each slice must stop exactly at its
    end and resume there, whatever kind of event comes next."""
    trace = generate(make_spec(shape="on-off", duration_s=400, rate=6, seed=2))
    settings = SimSettings(boot_delay_s=20, boot_jitter_s=5, release_delay_s=3, seed=1)
    whole = Simulation(trace, build_policy("slo"), ScalerLimits(), settings).run()
    stepped = Simulation(trace, build_policy("slo"), ScalerLimits(), settings)
    until = 0.0
    while not stepped.advance(until):
        assert stepped.now <= until
        until += step_s
    record = stepped.run()
    for column in ("start_s", "end_s"):
        np.testing.assert_array_equal(getattr(record.jobs, column), getattr(whole.jobs, column))
    assert record.machines == whole.machines
    for name, column in whole.series.columns.items():
        np.testing.assert_array_equal(record.series.columns[name], column)
