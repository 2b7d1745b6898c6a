"""Measuring what the live system costs (``imgproc calibrate``), from runs' records.

Two kinds of run on the live system, each a live replay with a constant fleet and no
boot delay, so that what is measured is the system's own cost:

- *starts*: ``k`` workers asked for at once; each one's request-to-ready time is its
  start with ``k`` starting together (they contend for the cores and come up at about
  the same time). A straight line through them gives the start alone and what each
  other one adds.
- *jobs*: one worker; a batch of empty jobs, back to back, whose gaps (one's end to the
  next one's start) are a busy worker's time between two jobs; then jobs spaced out,
  each finding the worker idle, whose wait from submission to start is the dispatch.

Each run ends by releasing every machine once its last job is done: release to gone is
a worker's stop.

The traces are built here, so what is measured and how it is read stay side by side.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imgproc.core.errors import ImgprocError
from imgproc.core.jobs import Job
from imgproc.core.metrics.record import RunRecord
from imgproc.core.trace import Trace


class CalibrationError(ImgprocError):
    """The runs measured nothing to make a profile of (no worker started, no job done)."""


BATCH_AT_S = 10.0  # the batch comes once the one worker surely runs
SPACED_AT_S = 25.0
SPACED_EVERY_S = 0.5


def start_trace(workers: int, service_s: float = 5.0) -> Trace:
    """One job per worker, long enough that the run (which ends with its last job) lasts
    until every worker has started."""
    return Trace.from_jobs(f"calibrate-starts-{workers}",
                           [Job(f"s{i:03d}", arrival_s=0.0, service_s=service_s)
                            for i in range(workers)])


def jobs_trace(batch: int, spaced: int) -> Trace:
    """``batch`` empty jobs at once, then ``spaced`` jobs far enough apart to find the
    worker idle."""
    jobs = [Job(f"b{i:04d}", arrival_s=BATCH_AT_S, service_s=0.0) for i in range(batch)]
    jobs += [Job(f"d{i:04d}", arrival_s=SPACED_AT_S + i * SPACED_EVERY_S, service_s=0.0)
             for i in range(spaced)]
    return Trace.from_jobs("calibrate-jobs", jobs)


def start_costs(record: RunRecord, boot_delay_s: float = 0.0) -> list[float]:
    """Each machine's request to ready beyond the boot delay, fastest first (machines that
    never got ready are left out)."""
    return sorted(m.ready_at - m.requested_at - boot_delay_s for m in record.machines
                  if m.ready_at is not None and not m.failed)


def stop_times(record: RunRecord) -> list[float]:
    """Each machine's release to gone, from the end of the run's last job (the replay
    releases every machine then): an upper bound, by the replay's poll and its stopping of
    the scaler first (a few tenths of a second in all)."""
    last_end = float(np.nanmax(record.jobs.end_s)) if len(record.jobs.end_s) else math.nan
    return [m.released_at - last_end for m in record.machines
            if m.released_at is not None and math.isfinite(last_end) and not m.failed]


def job_gaps(record: RunRecord, first: int, last: int) -> list[float]:
    """The gaps between consecutive jobs ``first``..``last`` (one worker, back to back)."""
    start = record.jobs.start_s[first:last]
    end = record.jobs.end_s[first:last]
    order = np.argsort(start)
    start, end = start[order], end[order]
    gaps = start[1:] - end[:-1]
    return [float(g) for g in gaps if math.isfinite(g)]


def dispatch_waits(record: RunRecord, first: int) -> list[float]:
    """Submission to start of jobs ``first`` on, each of which found the worker idle."""
    waits = record.jobs.start_s[first:] - record.jobs.submit_s[first:]
    return [float(w) for w in waits if math.isfinite(w)]


@dataclass(frozen=True)
class StartFit:
    """A worker's start cost: ``alone_s`` plus ``per_concurrent_s`` per other one."""

    alone_s: float
    per_concurrent_s: float


def fit_starts(points: Sequence[tuple[int, float]]) -> StartFit:
    """The least-squares line through (workers started at once, start cost), kept at or
    above zero; one number of workers alone gives its median and no slope."""
    if not points:
        raise CalibrationError("no worker started in the calibration runs: see the "
                               "deployer's and the workers' logs")
    xs = np.array([k - 1 for k, _ in points], dtype=float)
    ys = np.array([cost for _, cost in points], dtype=float)
    if np.ptp(xs) == 0:
        return StartFit(max(0.0, float(np.median(ys))), 0.0)
    slope, intercept = np.polyfit(xs, ys, 1)
    return StartFit(max(0.0, float(intercept)), max(0.0, float(slope)))


def typical(values: Sequence[float], what: str) -> float:
    """The median, at or above zero (a clock's jitter can make a tiny cost negative)."""
    if not values:
        raise CalibrationError(f"nothing measured of {what}: the calibration run did no job")
    return max(0.0, statistics.median(values))
