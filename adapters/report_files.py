"""Writes a run's report: time series as CSV, summary as JSON, charts as PNG.

Files are written to a temporary name and renamed, so a reader never sees a
half-written report.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from imgproc.core.metrics.record import SERIES_COLUMNS, RunRecord


def write_report(
    directory: Path, record: RunRecord, summary: dict, demand: np.ndarray | None = None
) -> list[Path]:
    """Write every report file into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [
        _atomic(directory / "series.csv", lambda f: _write_series(f, record, demand)),
        _atomic(directory / "summary.json", lambda f: json.dump(summary, f, indent=2)),
        _atomic(directory / "jobs.csv", lambda f: _write_jobs(f, record)),
    ]
    from imgproc.adapters.report_charts import draw_charts  # matplotlib is slow to import

    written.extend(draw_charts(directory, record, summary, demand))
    return written


def _atomic(path: Path, write: Callable) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_series(handle, record: RunRecord, demand: np.ndarray | None) -> None:
    writer = csv.writer(handle)
    columns = [record.series.column(name) for name in SERIES_COLUMNS]
    header = list(SERIES_COLUMNS)
    if demand is not None:
        header.append("demand")
        columns.append(demand)
    writer.writerow(header)
    for row in zip(*columns, strict=True):
        writer.writerow([_fmt(v) for v in row])


def _write_jobs(handle, record: RunRecord) -> None:
    jobs = record.jobs
    writer = csv.writer(handle)
    writer.writerow(["index", "submit_s", "start_s", "end_s", "service_s", "response_s", "failed"])
    for i in range(len(jobs.submit_s)):
        response = jobs.end_s[i] - jobs.submit_s[i]
        writer.writerow([
            i, _fmt(jobs.submit_s[i]), _fmt(jobs.start_s[i]), _fmt(jobs.end_s[i]),
            _fmt(jobs.service_s[i]), _fmt(response), int(jobs.failed[i]),
        ])


def _fmt(value) -> str:
    value = float(value)
    if np.isnan(value):
        return ""
    return f"{value:.6g}" if not value.is_integer() else str(int(value))
