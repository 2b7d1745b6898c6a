"""What a run's machines cost: VM-seconds, two billing models, fleet size.

A machine is billed from the moment it was *requested* (not when it became
ready, as clouds do) until it was released, or until the end of the run if it
was never released. A span that would be negative (requested after the end)
counts as zero. Failed machines are billed like any other.

Billing models, applied per machine:

- per second with a 60 s minimum (Linux on EC2 since 2017):
  ``max(seconds, 60)``;
- per started hour (clouds around 2012): ``ceil(seconds / 3600)``, at least
  one hour, since asking for a machine starts its first hour.

Seconds are rounded to microseconds before ``ceil`` so that float noise
(3600.0000000001 s) does not bill an extra hour.

Fleet size ("machines") at a sample is every machine not yet being torn
down: ``preparing + booting + running + draining``. The mean is
time-weighted: each sample stands for one step, divided by the run's
duration (or by the samples' steps, when they cover more).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from imgproc.core.metrics.record import MachineSpan, TimeSeries

MIN_BILLED_S = 60.0
HOUR_S = 3600.0
DEFAULT_PRICE_PER_HOUR = 0.10
#: Series columns whose sum is the fleet size.
FLEET_COLUMNS = ("preparing", "booting", "running", "draining")


@dataclass(frozen=True, slots=True)
class CostStats:
    """Machine time and its price under both billing models."""

    vm_seconds: float
    billed_seconds: float
    billed_hours: int
    price_per_hour: float
    cost_per_second_model: float
    cost_per_hour_model: float


def machine_seconds(span: MachineSpan, run_end_s: float) -> float:
    """Seconds from request to release (or to the end of the run), at least 0."""
    end = span.released_at if span.released_at is not None else run_end_s
    return max(end - span.requested_at, 0.0)


def billed_hours_of(seconds: float) -> int:
    """Started hours of one machine: at least one."""
    return max(1, math.ceil(round(seconds, 6) / HOUR_S))


def cost_stats(
    machines: Iterable[MachineSpan],
    run_end_s: float,
    price_per_hour: float = DEFAULT_PRICE_PER_HOUR,
) -> CostStats:
    """VM-seconds and billed cost of ``machines`` in a run ending at ``run_end_s``."""
    seconds = [machine_seconds(m, run_end_s) for m in machines]
    billed_s = sum(max(s, MIN_BILLED_S) for s in seconds)
    hours = sum(billed_hours_of(s) for s in seconds)
    return CostStats(
        vm_seconds=float(sum(seconds)),
        billed_seconds=float(billed_s),
        billed_hours=hours,
        price_per_hour=float(price_per_hour),
        cost_per_second_model=billed_s / HOUR_S * price_per_hour,
        cost_per_hour_model=hours * price_per_hour,
    )


def fleet_size(series: TimeSeries) -> np.ndarray:
    """Machines not yet being torn down, per sample."""
    total = np.zeros(len(series), dtype=float)
    for name in FLEET_COLUMNS:
        total += np.asarray(series.column(name), dtype=float)
    return total


def fleet_peak_and_mean(series: TimeSeries, duration_s: float) -> tuple[float, float]:
    """Peak fleet size and its time-weighted mean over ``duration_s``.

    The mean is taken over the series' own span (samples x step) when that is
    longer (a simulated run is sampled at 0 and at its end too, one sample more
    than its whole steps: a fleet that never changes must not average more than
    it is); both are NaN for an empty series.
    """
    size = fleet_size(series)
    if size.size == 0:
        return math.nan, math.nan
    span = max(duration_s, size.size * series.step_s)
    mean = float(size.sum() * series.step_s / span) if span > 0 else math.nan
    return float(size.max()), mean
