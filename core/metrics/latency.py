"""Job counts and response-time statistics of a run.

Definitions (every caller and the README rely on these):

- *submitted*: every job in :class:`JobOutcomes`;
- *lost*: never finished (``end_s`` is NaN), whatever its ``failed`` flag;
- *failed*: finished, with ``failed`` set;
- *completed*: finished, ``failed`` not set. So submitted = completed +
  failed + lost.
- *response*: ``end_s - submit_s`` of a completed job. Percentiles use
  :func:`numpy.percentile` with the ``linear`` method (NumPy's default:
  interpolate between the two nearest ranks).
- *slowdown*: ``response / service_s`` per completed job; jobs whose service
  time is zero, negative or NaN are left out (the ratio means nothing).
- *slo_met_share*: completed jobs with ``response <= slo_s`` divided by
  *submitted* jobs, so lost and failed jobs count as missed.

With nothing to measure, a statistic is NaN (a share with no submitted jobs
too); counts are never NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from imgproc.core.metrics.record import JobOutcomes

PERCENTILE_METHOD: Final = "linear"


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Counts, response-time statistics (seconds) and SLO share of one run."""

    submitted: int
    completed: int
    failed: int
    lost: int
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float
    slowdown_mean: float
    slo_s: float
    slo_met_share: float


def outcome_masks(jobs: JobOutcomes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks (completed, failed, lost), disjoint and covering every job."""
    end = np.asarray(jobs.end_s, dtype=float)
    failed_flag = np.asarray(jobs.failed, dtype=bool)
    lost = np.isnan(end)
    return ~lost & ~failed_flag, ~lost & failed_flag, lost


def _percentiles(values: np.ndarray) -> tuple[float, float, float, float]:
    if values.size == 0:
        return (math.nan,) * 4
    p50, p95, p99 = np.percentile(values, [50, 95, 99], method=PERCENTILE_METHOD)
    return float(p50), float(p95), float(p99), float(values.max())


def _slowdown_mean(response: np.ndarray, service: np.ndarray) -> float:
    usable = service > 0
    if not usable.any():
        return math.nan
    return float(np.mean(response[usable] / service[usable]))


def latency_stats(jobs: JobOutcomes, slo_s: float = 2.0) -> LatencyStats:
    """Summarise job outcomes; see the module docstring for the definitions."""
    completed, failed, lost = outcome_masks(jobs)
    submit = np.asarray(jobs.submit_s, dtype=float)
    end = np.asarray(jobs.end_s, dtype=float)
    response = end[completed] - submit[completed]
    service = np.asarray(jobs.service_s, dtype=float)[completed]
    submitted = int(submit.size)
    met = int(np.count_nonzero(response <= slo_s))
    p50, p95, p99, top = _percentiles(response)
    return LatencyStats(
        submitted=submitted,
        completed=int(completed.sum()),
        failed=int(failed.sum()),
        lost=int(lost.sum()),
        p50_s=p50,
        p95_s=p95,
        p99_s=p99,
        max_s=top,
        slowdown_mean=_slowdown_mean(response, service),
        slo_s=float(slo_s),
        slo_met_share=met / submitted if submitted else math.nan,
    )
