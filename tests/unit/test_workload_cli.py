"""``imgproc workload``: generate, convert, validate and info, through click."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from imgproc.adapters.trace_files import read_trace
from imgproc.cli.workload import workload
from imgproc.core.sim.step_bound import step_bounds


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(workload, [str(a) for a in args])


def assert_clean_failure(result: Result, *fragments: str) -> None:
    """Exit non-zero with the message, and no traceback."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def seed_log(path: Path, waits_us: list[float]) -> Path:
    lines = [
        {"user_id": "normal", "image_path": "/p.png", "size": 150000.0,
         "submitTime": None, "jobInterupt": w}
        for w in waits_us
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_generate_writes_the_trace_and_prints_a_one_line_summary(tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    result = run("generate", "--shape", "burst", "--seed", "3", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"{out}: 7201 jobs over 1200.040 s, mean rate 6.001 jobs/s, "
        f"total work {read_trace(out).trace.work_s:.3f} s"
    )
    assert read_trace(out).trace.ids[0] == "burst-000001"


def test_generate_passes_shape_knobs_and_name_to_the_generator(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    args = ["--shape", "on-off", "--on", "10", "--off", "20", "--duration", "90", "--rate", "50"]
    result = run("generate", *args, "--name", "blink", "--out", out)
    assert result.exit_code == 0, result.output
    trace = read_trace(out).trace
    assert trace.ids[0] == "blink-000001"
    assert all(at % 30 < 10 for at in trace.arrival_s)


def test_generate_rejects_a_negative_rate_naming_the_field(tmp_path: Path) -> None:
    result = run("generate", "--rate", "-1", "--out", tmp_path / "x.jsonl")
    assert_clean_failure(result, "rate: Input should be greater than 0")
    assert not (tmp_path / "x.jsonl").exists()


def test_generate_rejects_a_knob_that_does_not_fit_the_shape(tmp_path: Path) -> None:
    result = run("generate", "--shape", "ramp", "--peak-factor", "3", "--out", tmp_path / "x")
    assert_clean_failure(result, "flash_peak_factor applies only to 'flash-crowd'")


def test_convert_turns_a_seed_log_into_our_format_named_after_the_output(tmp_path: Path) -> None:
    source = seed_log(tmp_path / "burstWorkload.log", [200000.0, 40000.0, 40000.0])
    out = tmp_path / "burst.jsonl"
    result = run("convert", source, "--out", out)
    assert result.exit_code == 0, result.output
    trace = read_trace(out).trace
    assert trace.ids == ["burst-000001", "burst-000002", "burst-000003"]
    assert trace.arrival_s.tolist() == pytest.approx([0.2, 0.24, 0.28])
    assert trace.service_s.tolist() == pytest.approx([0.15] * 3)


def test_convert_reports_a_bad_seed_line_with_file_line_and_field(tmp_path: Path) -> None:
    source = seed_log(tmp_path / "s.log", [200000.0, -1.0])
    result = run("convert", source, "--out", tmp_path / "o.jsonl")
    assert_clean_failure(result, f"{source}:2: field 'jobInterupt': ", "greater than or equal to 0")


def test_validate_says_ok_with_counts_for_a_good_file(tmp_path: Path) -> None:
    out = tmp_path / "n.jsonl"
    run("generate", "--duration", "10", "--out", out)
    result = run("validate", out)
    assert result.exit_code == 0
    assert result.output == f"OK {out}: 50 jobs, 10.000 s\n"


def test_validate_prints_every_error_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "at": "x", "service_s": 1}\nnot json\n')
    result = run("validate", path)
    assert result.exit_code == 1
    assert f"{path}:1: field 'at': Input should be a valid number" in result.output
    assert f"{path}:2: field '<line>': expected a JSON object" in result.output
    assert_clean_failure(result, "2 invalid line(s)")


def test_validate_skip_invalid_lists_skipped_lines_and_counts_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"id": "a", "at": 1, "service_s": 1}\n{"id": "a", "at": 2, "service_s": 1}\n')
    result = run("validate", path, "--skip-invalid")
    assert result.exit_code == 0
    assert f"skipped {path}:2: field 'id': expected a unique id" in result.output
    assert f"OK {path}: 1 jobs, 1.000 s, 1 invalid line(s) skipped" in result.output


def test_info_prints_jobs_duration_rates_service_statistics_and_work(tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    run("generate", "--shape", "burst", "--out", out)
    lines = run("info", out).output.splitlines()
    rows = {line[:16].strip(): line[16:] for line in lines}
    assert rows["jobs"] == "7201"
    assert rows["duration"] == "1200.040 s"
    assert rows["mean rate"] == "6.001 jobs/s"
    assert rows["peak rate"] == "25.000 jobs/s (busiest 10 s window)"
    assert rows["service p50"].endswith(" s") and rows["service p95"].endswith(" s")
    assert float(rows["service mean"][:-2]) == pytest.approx(0.2, rel=0.02)
    assert float(rows["total work"][:-2]) == pytest.approx(7201 * 0.2, rel=0.02)


def test_info_on_a_missing_file_fails_cleanly_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    assert_clean_failure(run("info", missing), str(missing), "No such file or directory")


def test_step_bound_prints_the_bound_per_machine_count_and_what_the_share_needs(
        tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    assert run("generate", "--shape", "burst", "--duration", "600", "--out", out).exit_code == 0
    result = run("step-bound", out, "--onset", "60", "--window", "500")
    assert result.exit_code == 0, result.output
    bounds = step_bounds(read_trace(out).trace, 60.0, 30.0, 2.0, 0.95)
    rows = [line.split() for line in result.output.splitlines()[2:-1]]
    assert [int(row[0]) for row in rows] == [b.machines for b in bounds]
    for row, bound in zip(rows, bounds, strict=True):
        assert 0 <= bound.share * 100 - float(row[1]) < 0.01  # shown rounded down
        assert row[3] == f"{bound.machines * 500:,}"
    assert result.output.splitlines()[-1] == (
        f"95 % needs {bounds[-1].machines} machine(s) at the step; a policy that cannot tell "
        f"when the step comes spends at least {bounds[-1].machines * 500:,} VM-s over the "
        "window")


@pytest.mark.parametrize("args,message", [
    (["--onset", "nan"], "expected a finite number, got nan"),
    (["--onset", "60", "--slo", "inf"], "expected a finite number, got inf"),
    (["--onset", "500"], "must come before the trace's last arrival"),
    (["--onset", "60", "--boot-delay", "5000"], "no window is left for the step"),
    (["--onset", "-1"], "--onset"),
])
def test_step_bound_refuses_what_would_make_its_answer_meaningless(
        tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "b.jsonl"
    run("generate", "--shape", "burst", "--duration", "100", "--out", out)
    assert_clean_failure(run("step-bound", out, *args), message)


def test_step_bound_of_a_missing_file_fails_cleanly(tmp_path: Path) -> None:
    assert_clean_failure(run("step-bound", tmp_path / "none.jsonl", "--onset", "1"),
                         "none.jsonl")
