"""``imgproc calibrate`` reads the live system's costs out of its runs' records: what the
traces ask for, how each cost is read, and the profile they make."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from imgproc.calibrate import calibrate, calibration_settings
from imgproc.core.calibration import (
    CalibrationError,
    dispatch_waits,
    fit_starts,
    job_gaps,
    jobs_trace,
    start_costs,
    start_trace,
    stop_times,
)
from imgproc.core.metrics.record import JobOutcomes, MachineSpan, RunRecord, TimeSeries
from imgproc.settings import Settings


def record(machines=(), submit=(), start=(), end=()) -> RunRecord:
    n = len(submit)
    jobs = JobOutcomes(np.array(submit, float), np.array(start, float), np.array(end, float),
                       np.zeros(n), np.zeros(n, bool))
    return RunRecord("t", "constantsize", "live", jobs, list(machines),
                     TimeSeries(1.0, {"t": np.array([])}), 0, 0.0)


def test_start_costs_are_request_to_ready_fastest_first_and_never_ready_left_out():
    machines = [MachineSpan("a", 10.0, 10.9, None), MachineSpan("b", 10.0, 10.5, None),
                MachineSpan("c", 10.0, None, None), MachineSpan("d", 10.0, 11.0, 12.0, True)]

    assert start_costs(record(machines)) == pytest.approx([0.5, 0.9])


def test_the_fit_is_the_start_alone_plus_a_step_per_other_worker_started_at_once():
    points = [(1, 0.5), (2, 0.6), (3, 0.7), (1, 0.5), (4, 0.8)]

    fit = fit_starts(points)

    assert fit.alone_s == pytest.approx(0.5) and fit.per_concurrent_s == pytest.approx(0.1)


def test_a_fit_never_goes_below_zero_and_one_number_of_workers_alone_has_no_slope():
    assert fit_starts([(1, 0.9), (2, 0.5), (3, 0.1)]).per_concurrent_s == 0.0
    one = fit_starts([(1, 0.4), (1, 0.6), (1, 0.5)])
    assert (one.alone_s, one.per_concurrent_s) == (pytest.approx(0.5), 0.0)
    with pytest.raises(CalibrationError, match="no worker started"):
        fit_starts([])


def test_a_stop_is_a_machines_release_to_gone_after_the_runs_last_job():
    machines = [MachineSpan("a", 0.0, 1.0, 9.5), MachineSpan("b", 0.0, 1.0, 9.25),
                MachineSpan("c", 0.0, 1.0, None)]
    r = record(machines, submit=[0, 0], start=[2.0, 3.0], end=[8.0, 9.0])

    assert stop_times(r) == pytest.approx([0.5, 0.25])


def test_gaps_are_one_jobs_end_to_the_next_ones_start_in_start_order():
    r = record(submit=[0, 0, 0, 5], start=[1.0, 1.5, 1.2, 6.0], end=[1.1, 1.6, 1.3, 6.1])

    assert job_gaps(r, 0, 3) == pytest.approx([0.1, 0.2])
    assert dispatch_waits(r, 3) == pytest.approx([1.0])


def test_the_traces_ask_for_one_job_per_worker_then_a_batch_then_spaced_jobs():
    starts = start_trace(4)
    assert len(starts) == 4 and set(starts.arrival_s) == {0.0}
    jobs = jobs_trace(batch=5, spaced=3)
    assert list(jobs.arrival_s) == [10.0] * 5 + [25.0, 25.5, 26.0]
    assert set(jobs.service_s) == {0.0}


def test_calibration_runs_a_constant_fleet_without_boot_delay_on_wall_time():
    s = Settings.model_validate({"clock": {"speed": 10}, "provider": {"boot_delay_s": 30}})

    c = calibration_settings(s, 4)

    assert (c.policy, c.policy_params) == ("constantsize", {"size": 4, "max_starting": 4})
    assert c.provider.boot_delay_s == 0.0 and c.clock.speed == 1.0
    assert c.scaler.max_workers == 4 and c.scaler.max_starting == 4


def test_the_profile_holds_the_fit_the_median_dispatch_and_the_median_gap():
    asked: list[tuple[int, int]] = []

    def fake_run(settings, trace, _stop):  # stands in for live replays (tested live)
        asked.append((settings.policy_params["size"], len(trace)))
        if trace.name.startswith("calibrate-starts"):
            k = settings.policy_params["size"]
            return record([MachineSpan(f"m{i}", 0.0, 0.5 + 0.1 * (k - 1), 8.25)
                           for i in range(k)], submit=[0.0] * k, start=[3.0] * k,
                          end=[8.0] * k)
        submit = trace.arrival_s
        back_to_back = submit[0] + np.arange(20) * 0.01  # the batch, 2 ms apart
        spaced = submit[20:] + 0.004  # each found the worker idle
        start = np.concatenate([back_to_back, spaced])
        return record(submit=list(submit), start=list(start), end=list(start + 0.008))

    profile = calibrate(Settings(), "here", threading.Event(), starts=(1, 3), batch=20,
                        spaced=5, say=lambda _line: None, run=fake_run)

    assert asked == [(1, 1), (3, 3), (1, 25)]
    assert profile.name == "here" and profile.provider == "local"
    assert profile.start_s == pytest.approx(0.5) and profile.start_per_concurrent_s == \
        pytest.approx(0.1)
    assert profile.job_overhead_s == pytest.approx(0.002)
    assert profile.dispatch_s == pytest.approx(0.004)
    assert profile.stop_s == pytest.approx(0.25)
