"""End-to-end simulator runs of the seed's traces under every policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgproc.adapters.trace_files import read_trace
from imgproc.bootstrap.sim import simulate
from imgproc.core.policies import policy_names
from imgproc.settings import Settings

WORKLOADS = Path(__file__).resolve().parents[2] / "workloads"


@pytest.fixture(scope="module")
def seed_traces():
    return {name: read_trace(WORKLOADS / f"{name}.jsonl").trace for name in ("burst", "normal")}


@pytest.mark.parametrize("trace_name", ["burst", "normal"])
@pytest.mark.parametrize("policy", policy_names())
def test_every_job_completes_and_the_metrics_agree(seed_traces, trace_name, policy):
    trace = seed_traces[trace_name]
    summary = simulate(Settings(), trace, policy_name=policy).summary
    assert summary["jobs_submitted"] == len(trace) == summary["jobs_completed"]
    assert summary["jobs_lost"] == 0 and summary["jobs_failed"] == 0
    assert summary["vm_seconds"] >= summary["work_seconds"] > 0
    assert summary["billed_seconds"] >= summary["vm_seconds"]
    assert summary["billed_hours"] * 3600 >= summary["vm_seconds"]
    assert summary["response_p50_s"] <= summary["response_p95_s"] <= summary["response_p99_s"]
    assert summary["response_p99_s"] <= summary["response_max_s"]
    assert summary["slowdown_mean"] >= 1.0
    assert 0.0 <= summary["slo_met_share"] <= 1.0
    assert summary["machines_peak"] >= summary["machines_mean"] > 0
    assert summary["duration_s"] >= trace.duration_s
    for share in ("t_u", "t_o"):
        assert 0.0 <= summary[share] <= 1.0
    assert summary["t_u"] + summary["t_o"] <= 1.0 + 1e-9


def test_the_same_run_twice_gives_the_same_numbers(seed_traces):
    a = simulate(Settings(), seed_traces["burst"], policy_name="slo").summary
    b = simulate(Settings(), seed_traces["burst"], policy_name="slo").summary
    assert a == b


def test_a_longer_boot_delay_costs_response_time(seed_traces):
    fast = simulate(Settings(sim={"boot_delay_s": 5}), seed_traces["burst"], "queuerate").summary
    slow = simulate(Settings(sim={"boot_delay_s": 90}), seed_traces["burst"], "queuerate").summary
    assert slow["response_max_s"] > fast["response_max_s"]
