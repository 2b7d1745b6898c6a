"""Means of replicated runs with their 95 % confidence intervals (Student's t).

The two-sided 97.5 % quantiles of Student's t for 1-30 degrees of freedom are tabulated
(no SciPy here); beyond 30 they are interpolated linearly in 1/df between the usual table
rows (40, 60, 120, infinity), within 0.001 of the exact value.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from itertools import pairwise

_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_T975_TAIL = ((30, 2.042), (40, 2.021), (60, 2.000), (120, 1.980), (math.inf, 1.960))


def t975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` >= 1 degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    (lo, t_lo), (hi, t_hi) = next(pair for pair in pairwise(_T975_TAIL) if df <= pair[1][0])
    weight = (1 / lo - 1 / df) / (1 / lo - 1 / hi)
    return t_lo + weight * (t_hi - t_lo)


def mean_ci95(values: Sequence[float]) -> tuple[float, float | None]:
    """The mean and the half-width of its 95 % confidence interval (None for one value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    return mean, t975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
