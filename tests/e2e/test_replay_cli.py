"""imgproc-tui --replay and imgproc compare, run as a user runs them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from imgproc.cli import main as imgproc
from imgproc.tui.main import main as tui

WORKLOADS = Path(__file__).resolve().parents[2] / "workloads"
REQUIRED_KEYS = {
    "trace", "policy", "backend", "jobs_submitted", "jobs_completed", "jobs_failed", "jobs_lost",
    "response_p50_s", "response_p95_s", "response_p99_s", "response_max_s", "slowdown_mean",
    "slo_s", "slo_met_share", "vm_seconds", "billed_hours", "machines_peak", "machines_mean",
    "scaling_actions", "a_u", "a_o", "t_u", "t_o", "instability", "jitter", "work_seconds",
    "duration_s",
}


def test_replay_json_has_every_documented_key_and_exits_zero():
    result = CliRunner().invoke(tui, ["--replay", str(WORKLOADS / "burst.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) >= REQUIRED_KEYS
    assert summary["backend"] == "sim" and summary["policy"] == "slo"
    assert summary["jobs_completed"] == 7201


def test_replay_flags_reach_the_run():
    args = ["--replay", str(WORKLOADS / "normal.jsonl"), "--json", "--policy", "queuerate",
            "--slo", "3.5", "--boot-delay", "5"]
    summary = json.loads(CliRunner().invoke(tui, args).stdout)
    assert summary["policy"] == "queuerate" and summary["slo_s"] == 3.5


def test_replay_writes_series_summary_and_charts(tmp_path):
    report = tmp_path / "report"
    result = CliRunner().invoke(tui, ["--replay", str(WORKLOADS / "burst.jsonl"),
                                      "--report", str(report)])
    assert result.exit_code == 0, result.output
    for name in ("series.csv", "summary.json", "jobs.csv", "queue.png", "rates.png",
                 "machines.png", "response.png", "overview.png"):
        assert (report / name).stat().st_size > 0, name
    rows = list(csv.DictReader((report / "series.csv").open()))
    columns = {"t", "ready", "in_flight", "arrivals", "completions", "running", "demand"}
    assert columns <= set(rows[0])
    assert sum(int(float(r["arrivals"])) for r in rows) == 7201
    assert (report / "queue.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_replay_exits_non_zero_when_jobs_are_lost(tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"id": "a", "at": 0, "service_s": 1}\n'
                     '{"id": "b", "at": 1, "service_s": 500}\n')
    ok = CliRunner().invoke(tui, ["--replay", str(trace), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["jobs_lost"] == 0
    config = tmp_path / "impatient.toml"
    config.write_text("[sim]\nmax_overrun_s = 100\n")
    lost = CliRunner().invoke(tui, ["--replay", str(trace), "--json", "--config", str(config)])
    assert json.loads(lost.stdout)["jobs_lost"] == 1
    assert lost.exit_code == 1


def test_replay_of_an_invalid_trace_names_file_line_and_field_and_runs_nothing(tmp_path):
    trace = tmp_path / "bad.jsonl"
    trace.write_text('{"id": "a", "at": 0, "service_s": 1}\n'
                     '{"id": "b", "at": "soon", "service_s": 1}\n')
    result = CliRunner().invoke(tui, ["--replay", str(trace), "--json"])
    assert result.exit_code != 0
    assert f"{trace}:2: field 'at'" in result.output
    assert "nothing was replayed" in result.output


def test_skip_invalid_reports_the_skipped_line_and_replays_the_rest(tmp_path):
    trace = tmp_path / "bad.jsonl"
    trace.write_text('{"id": "a", "at": 0, "service_s": 1}\n'
                     '{"id": "b", "at": -1, "service_s": 1}\n')
    result = CliRunner().invoke(tui, ["--replay", str(trace), "--json", "--skip-invalid"])
    assert result.exit_code == 0
    assert f"skipped {trace}:2: field 'at'" in result.stderr
    assert json.loads(result.stdout)["jobs_submitted"] == 1


def test_compare_lists_the_oracle_then_every_policy_with_its_cost_against_oracle_95():
    result = CliRunner().invoke(imgproc, ["compare", str(WORKLOADS / "normal.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    policies = [r["policy"] for r in rows]
    assert policies[:2] == ["oracle-100", "oracle-95"] and len(policies) == 9
    reference = rows[1]
    assert rows[0]["slo_met_share"] == 1.0 and reference["slo_met_share"] >= 0.95
    for row in rows:
        assert row["cost_vs_oracle95"] == round(
            row["billed_seconds"] / reference["billed_seconds"], 4)
        assert row["vm_seconds"] >= row["work_seconds"]


def test_the_installed_command_prints_progress_lines_when_not_on_a_terminal():
    result = subprocess.run(
        [sys.executable, "-m", "imgproc.tui.main", "--replay", str(WORKLOADS / "burst.jsonl")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "jobs_completed" in result.stdout and "7201" in result.stdout
