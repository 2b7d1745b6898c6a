"""Trace files: reading either format from disk, writing ours atomically, and
the example workloads shipped in ``workloads/``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgproc.adapters import trace_files
from imgproc.adapters.trace_files import read_trace, write_trace
from imgproc.core.errors import ConfigurationError, TraceValidationFailed
from imgproc.core.image_ops import Grayscale, Rotate, Thumbnail
from imgproc.core.jobs import Job
from imgproc.core.trace import Trace
from imgproc.core.trace_format import job_to_line

REPO = Path(__file__).resolve().parents[2]
SEED_LOG = REPO / "workloads" / "seed" / "burstWorkload.log"  # the 2012 file, unchanged
EXAMPLES = ["burst", "normal", "diurnal", "flash-crowd", "on-off", "heavy-tail"]

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
MICROS = st.integers(min_value=0, max_value=10**12).map(lambda k: k / 1e6)
OPS = st.lists(
    st.sampled_from([Thumbnail(op="thumbnail", size=64), Grayscale(op="grayscale")])
    | st.floats(-720, 720).map(lambda d: Rotate(op="rotate", degrees=d)),
    max_size=3,
)


@st.composite
def jobs_of(draw: st.DrawFn, job_id: str, at: float) -> Job:
    ops = tuple(draw(OPS))
    service = draw(st.none() | MICROS) if ops else draw(MICROS)
    paths = (draw(TEXT), draw(TEXT)) if ops else (draw(st.none() | TEXT), None)
    return Job(job_id, at, service, draw(TEXT), ops, paths[0], paths[1])


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    ids = draw(st.lists(TEXT, max_size=15, unique=True))
    arrivals = sorted(draw(st.lists(MICROS, min_size=len(ids), max_size=len(ids))))
    return Trace.from_jobs("t", [draw(jobs_of(i, a)) for i, a in zip(ids, arrivals, strict=True)])


def plain_trace(n: int = 3) -> Trace:
    jobs = [Job(f"p-{i}", 0.2 * i, 0.1234567, "normal") for i in range(1, n + 1)]
    return Trace.from_jobs("p", jobs)


@settings(max_examples=80, deadline=None)
@given(trace=traces())
def test_write_then_read_gives_back_any_valid_trace(trace: Trace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.jsonl"
        write_trace(trace, path)
        back = read_trace(path).trace
    assert back.ids == trace.ids and back.users == trace.users
    np.testing.assert_array_equal(back.arrival_s, trace.arrival_s)
    np.testing.assert_array_equal(back.service_s, trace.service_s)
    assert list(back) == list(trace)


def test_writes_plain_jobs_exactly_as_job_to_line_describes_them(tmp_path: Path) -> None:
    trace = Trace.from_jobs("x", [Job('q"é\\', 1 / 3, 2 / 3, "ü"), Job("b", 1.0, 1e-7, "u")])
    write_trace(trace, tmp_path / "x.jsonl")
    lines = (tmp_path / "x.jsonl").read_text(encoding="utf-8").splitlines()
    expected = [json.dumps(job_to_line(trace, i), ensure_ascii=False) for i in range(2)]
    assert lines == expected


def test_writing_leaves_no_temporary_file_and_a_readable_mode(tmp_path: Path) -> None:
    write_trace(plain_trace(), tmp_path / "t.jsonl")
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]
    assert (tmp_path / "t.jsonl").stat().st_mode & 0o777 == 0o644


def test_a_failed_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "t.jsonl"
    target.write_text("old\n")

    def broken(*args: object) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(trace_files, "_plain_line", broken)
    with pytest.raises(RuntimeError):
        write_trace(plain_trace(), target)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]


def test_writing_into_a_missing_folder_names_the_path(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "t.jsonl"
    with pytest.raises(ConfigurationError,
                       match=r"cannot write trace file .*nowhere.*No such file"):
        write_trace(plain_trace(), target)


def test_reading_a_missing_file_names_the_path_and_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "absent.jsonl"
    with pytest.raises(ConfigurationError) as caught:
        read_trace(missing)
    assert str(missing) in str(caught.value)
    assert "No such file or directory" in str(caught.value)


def test_reading_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Is a directory"):
        read_trace(tmp_path)


def test_reading_a_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"id": "\xe9", "at": 0, "service_s": 1}\n')
    with pytest.raises(ConfigurationError, match="not UTF-8 text"):
        read_trace(path)


def test_invalid_lines_in_a_file_are_reported_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "at": 0, "service_s": 1}\n{"id": "b", "at": -1, "service_s": 1}\n')
    with pytest.raises(TraceValidationFailed) as caught:
        read_trace(path)
    assert str(caught.value.errors[0]).startswith(f"{path}:2: field 'at': ")
    parsed = read_trace(path, skip_invalid=True)
    assert parsed.trace.ids == ["a"] and [e.line for e in parsed.skipped] == [2]


def test_the_seed_burst_log_reads_as_7201_jobs_in_seconds() -> None:
    trace = read_trace(SEED_LOG).trace
    assert len(trace) == 7201
    assert trace.arrival_s[0] == pytest.approx(0.2)
    assert trace.duration_s == pytest.approx(1200.04)
    assert np.nanmean(trace.service_s) == pytest.approx(0.2, rel=0.01)


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_workload_is_valid_20_minutes_and_under_a_megabyte(name: str) -> None:
    path = REPO / "workloads" / f"{name}.jsonl"
    trace = read_trace(path).trace
    assert os.path.getsize(path) < 1_000_000
    assert trace.ids[0] == f"{name}-000001"
    assert 1000 < trace.duration_s <= 1200.04 + 1e-9
    assert np.nanmean(trace.service_s) == pytest.approx(0.2, rel=0.05)
