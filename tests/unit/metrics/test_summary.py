import json
import math

import numpy as np

from imgproc.core.metrics.record import (
    SERIES_COLUMNS,
    JobOutcomes,
    MachineSpan,
    RunRecord,
    TimeSeries,
)
from imgproc.core.metrics.summary import KEY_DOCS, SUMMARY_KEYS, json_value, summarize

REQUIRED = {
    "trace", "policy", "backend", "jobs_submitted", "jobs_completed", "jobs_failed",
    "jobs_lost", "response_p50_s", "response_p95_s", "response_p99_s", "response_max_s",
    "slowdown_mean", "slo_s", "slo_met_share", "vm_seconds", "billed_hours", "machines_peak",
    "machines_mean", "scaling_actions", "a_u", "a_o", "t_u", "t_o", "instability", "jitter",
    "work_seconds", "duration_s", "billed_seconds", "cost_per_second_model",
    "cost_per_hour_model", "demand_window_s", "duplicates",
}  # fmt: skip

ARRIVALS = np.array([0.0, 1.0, 2.0, 3.0])
SERVICE = np.array([1.0, 1.0, 1.0, 1.0])


def record(end_s, n_samples=10, running=1, machines=None, arrivals=ARRIVALS, duplicates=0):
    columns = {name: np.zeros(n_samples) for name in SERIES_COLUMNS}
    columns["t"] = np.arange(1, n_samples + 1, dtype=float)
    columns["running"] = np.full(n_samples, float(running))
    jobs = JobOutcomes(
        submit_s=arrivals,
        start_s=arrivals,
        end_s=np.array(end_s, dtype=float),
        service_s=np.ones(len(arrivals)),
        failed=np.zeros(len(arrivals), dtype=bool),
        duplicates=duplicates,
    )
    return RunRecord(
        trace="tiny",
        policy="constant",
        backend="sim",
        jobs=jobs,
        machines=machines if machines is not None else [MachineSpan("m1", 0.0, 20.0, None)],
        series=TimeSeries(1.0, columns),
        scaling_actions=1,
        duration_s=float(n_samples),
    )


def test_a_summary_has_every_required_key_in_the_documented_order():
    summary = summarize(record([1.0, 3.0, 5.0, 7.0]), ARRIVALS, SERVICE)
    assert set(summary) >= REQUIRED
    assert tuple(summary) == SUMMARY_KEYS


def test_every_key_has_a_one_line_meaning():
    assert set(KEY_DOCS) == set(SUMMARY_KEYS)
    assert all(doc and "\n" not in doc for doc in KEY_DOCS.values())


def test_a_small_run_is_summarised_with_hand_computed_values():
    summary = summarize(record([1.0, 3.0, 5.0, 7.0], duplicates=2), ARRIVALS, SERVICE)
    assert summary["jobs_submitted"] == summary["jobs_completed"] == 4
    assert summary["response_p50_s"] == 2.5
    assert summary["response_max_s"] == 4.0
    assert summary["slowdown_mean"] == 2.5
    assert summary["slo_met_share"] == 0.5
    assert summary["vm_seconds"] == 10.0
    assert summary["billed_seconds"] == 60.0
    assert summary["billed_hours"] == 1
    assert summary["cost_per_hour_model"] == 0.1
    assert summary["work_seconds"] == 4.0
    assert summary["duplicates"] == 2
    assert summary["scaling_actions"] == 1
    assert summary["machines_peak"] == 1 and summary["machines_mean"] == 1.0
    # four 1 s jobs within 10 s never need more than the one running worker
    assert (summary["a_u"], summary["a_o"]) == (0.0, 0.0)


def test_a_summary_survives_strict_json():
    summary = summarize(record([1.0, 3.0, 5.0, 7.0]), ARRIVALS, SERVICE)
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_an_empty_run_summarises_to_zeros_and_nones():
    empty = np.zeros(0)
    run = record([], n_samples=0, machines=[], arrivals=empty)
    summary = summarize(run, empty, empty)
    json.dumps(summary, allow_nan=False)
    assert summary["jobs_submitted"] == 0 and summary["vm_seconds"] == 0.0
    assert summary["response_p50_s"] is None and summary["slo_met_share"] is None
    assert summary["machines_peak"] is None and summary["a_u"] is None


def test_an_all_lost_run_meets_no_objective_and_lacks_response_times():
    lost = [math.nan] * 4
    summary = summarize(record(lost, running=0), ARRIVALS, SERVICE)
    json.dumps(summary, allow_nan=False)
    assert summary["jobs_lost"] == 4
    assert summary["slo_met_share"] == 0.0
    assert summary["response_p99_s"] is None
    assert summary["t_u"] > 0


def test_json_values_are_rounded_and_unwrapped():
    assert json_value(1 / 3) == 0.333333
    assert json_value(np.float64(math.inf)) is None
    assert json_value(np.float32(math.nan)) is None
    assert type(json_value(np.int64(3))) is int


def test_elasticity_compares_running_machines_with_demand_from_the_trace():
    # at most four 1 s jobs per 10 s window: one worker meets a 2 s objective throughout
    summary = summarize(record([1.0, 3.0, 5.0, 7.0], running=3), ARRIVALS, SERVICE)
    assert (summary["a_u"], summary["a_o"], summary["t_u"], summary["t_o"]) == (0.0, 2.0, 0.0, 1.0)
    assert (summary["instability"], summary["jitter"]) == (0.0, 0.0)
