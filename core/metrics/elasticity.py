"""SPEC Research Group elasticity metrics: how closely supply followed demand.

``demand`` d and ``supply`` s are sampled on the same grid of step ``step_s``;
each sample stands for one step, so the run lasts ``T = len * step_s`` and a
time integral divided by T is a plain mean over samples:

- ``a_U = mean(max(d - s, 0))``: workers missing, on average;
- ``a_O = mean(max(s - d, 0))``: workers in excess, on average;
- ``t_U = mean(s < d)``, ``t_O = mean(s > d)``: shares of time under and over.

Between consecutive samples ``Δs`` and ``Δd`` are the changes.

- instability: the share of the ``len - 1`` intervals in which supply and
  demand move in opposite directions, ``sign(Δs) * sign(Δd) < 0``. This follows
  the SPEC RG / BUNGEE wording ("the fraction of time in which supply and
  demand change in opposite directions"); an interval in which only one curve
  moves does not count.
- jitter: ``(E_s - E_d) / T_min`` where ``E`` counts the intervals in which a
  curve changes and ``T_min = T / 60``: scaling events per minute in excess of
  demand's (negative: sluggish; positive: oscillating).

With no samples every metric is NaN; with one sample instability is NaN (no
interval) and jitter is 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Elasticity:
    """Accuracy (workers), timeshare and instability (shares), jitter (per minute)."""

    a_u: float
    a_o: float
    t_u: float
    t_o: float
    instability: float
    jitter: float


NOT_MEASURED = Elasticity(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)


def instability(demand: np.ndarray, supply: np.ndarray) -> float:
    """Share of intervals in which supply and demand change in opposite directions."""
    if demand.size < 2:
        return math.nan
    opposite = np.sign(np.diff(supply)) * np.sign(np.diff(demand)) < 0
    return float(opposite.mean())


def jitter(demand: np.ndarray, supply: np.ndarray, step_s: float) -> float:
    """Supply's changes minus demand's, per minute of run."""
    minutes = demand.size * step_s / 60.0
    if minutes <= 0:
        return math.nan
    events_s = np.count_nonzero(np.diff(supply))
    events_d = np.count_nonzero(np.diff(demand))
    return float((events_s - events_d) / minutes)


def elasticity(demand: np.ndarray, supply: np.ndarray, step_s: float = 1.0) -> Elasticity:
    """All six metrics of ``supply`` against ``demand``; see the module docstring."""
    d = np.asarray(demand, dtype=float)
    s = np.asarray(supply, dtype=float)
    if d.shape != s.shape:
        raise ValueError(f"demand and supply differ in length: {d.size} != {s.size}")
    if d.size == 0:
        return NOT_MEASURED
    gap = d - s
    return Elasticity(
        a_u=float(np.maximum(gap, 0).mean()),
        a_o=float(np.maximum(-gap, 0).mean()),
        t_u=float((s < d).mean()),
        t_o=float((s > d).mean()),
        instability=instability(d, s),
        jitter=jitter(d, s, step_s),
    )
