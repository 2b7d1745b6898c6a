"""Demand d(t): the workers a trace needs at each instant, from the trace alone.

Every policy is judged against the same curve, so it depends only on arrival
and service times, never on what the policy did. At each grid time ``t``:

- the window holds the jobs that arrived in ``(t - W, t]``;
- ``λ(t) = count / W`` and ``S(t)`` = mean service time of those jobs (jobs
  with an unknown (NaN) service time count towards λ but not towards S);
- ``S`` is rounded to milliseconds, so that equal windows share one answer;
- ``d(t)`` = smallest ``c`` whose M/M/c mean response ``W_q + S`` is at most
  the objective, i.e. mean wait ``W_q <= slo - S``
  (:func:`imgproc.core.queueing.min_servers`);
- when ``S >= slo`` no ``c`` can meet the objective; ``d`` is then the smallest
  ``c`` with mean wait at most ``0.1 * S`` (waiting adds at most a tenth to a
  job that is already too slow);
- ``d >= 1`` whenever the window holds a job (even one of zero service time),
  and ``d = 0`` when it is empty.
"""

from __future__ import annotations

import numpy as np

from imgproc.core.queueing import min_servers

DEFAULT_WINDOW_S = 10.0
#: Mean wait allowed, as a share of S, when S alone breaks the objective.
IMPOSSIBLE_WAIT_SHARE = 0.1
SERVICE_DECIMALS = 3


def allowed_wait(service_s: float, slo_s: float) -> float:
    """Mean wait that meets the objective, or the fallback when none can."""
    if service_s >= slo_s:
        return IMPOSSIBLE_WAIT_SHARE * service_s
    return slo_s - service_s


def servers_needed(count: int, service_s: float, window_s: float, slo_s: float) -> int:
    """Workers for ``count`` arrivals of mean service ``service_s`` in one window."""
    if count <= 0:
        return 0
    needed = min_servers(count / window_s, service_s, allowed_wait(service_s, slo_s))
    return max(needed, 1)


def window_stats(
    arrival_s: np.ndarray, service_s: np.ndarray, grid_t: np.ndarray, window_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Arrivals in ``(t - W, t]`` and their mean known service time, per grid time."""
    order = np.argsort(arrival_s, kind="stable")
    arrivals = np.asarray(arrival_s, dtype=float)[order]
    service = np.asarray(service_s, dtype=float)[order]
    known = ~np.isnan(service)
    sum_known = np.concatenate(([0.0], np.cumsum(np.where(known, service, 0.0))))
    n_known = np.concatenate(([0], np.cumsum(known)))
    hi = np.searchsorted(arrivals, grid_t, side="right")
    lo = np.searchsorted(arrivals, grid_t - window_s, side="right")
    known_in = n_known[hi] - n_known[lo]
    total = sum_known[hi] - sum_known[lo]
    mean = np.divide(total, known_in, out=np.zeros(len(grid_t)), where=known_in > 0)
    return hi - lo, mean


def demand_curve(
    arrival_s: np.ndarray,
    service_s: np.ndarray,
    grid_t: np.ndarray,
    *,
    window_s: float = DEFAULT_WINDOW_S,
    slo_s: float = 2.0,
) -> np.ndarray:
    """Integer demand at each time in ``grid_t``; see the module docstring.

    ``window_s`` and ``slo_s`` are keyword-only: both are seconds, and a swap
    would silently give a wrong curve.

    Solves M/M/c once per distinct (count, rounded S) pair, so a long grid
    with a steady load costs little.
    """
    if window_s <= 0:
        raise ValueError("window_s must be positive")
    grid = np.asarray(grid_t, dtype=float)
    if grid.size == 0:
        return np.zeros(0, dtype=int)
    counts, mean_s = window_stats(arrival_s, service_s, grid, window_s)
    pair_counts, pair_means, inverse = _distinct_pairs(counts,
                                                       np.round(mean_s, SERVICE_DECIMALS))
    solved = np.array(
        [servers_needed(int(n), float(s), window_s, slo_s)
         for n, s in zip(pair_counts, pair_means, strict=True)], dtype=int
    )
    return solved[inverse]


def _distinct_pairs(
    counts: np.ndarray, means: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``(count, mean)`` pairs, in order, and each point's index among them.

    Each column is made distinct on its own and a pair coded as one integer: three sorts
    of numbers, where ``np.unique(axis=0)`` sorted rows as records, which took most of the
    summary of a 200,000-second run.
    """
    count_values, count_index = np.unique(counts, return_inverse=True)
    mean_values, mean_index = np.unique(means, return_inverse=True)
    codes, inverse = np.unique(count_index * len(mean_values) + mean_index,
                               return_inverse=True)
    return count_values[codes // len(mean_values)], mean_values[codes % len(mean_values)], inverse
