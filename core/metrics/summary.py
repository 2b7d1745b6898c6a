"""One flat, JSON-ready dict of every metric of a run.

:func:`summarize` is what the CLI prints, what result files hold and what the
README's metric table is generated from (:data:`KEY_DOCS`). Floats are
rounded to 6 decimals; a metric that could not be measured (NaN, infinite)
is ``None``. Demand is computed from the trace alone (arrival and service
times), supply is the ``running`` column of the run's time series.
"""

from __future__ import annotations

import math

import numpy as np

from imgproc.core.metrics.cost import DEFAULT_PRICE_PER_HOUR, cost_stats, fleet_peak_and_mean
from imgproc.core.metrics.demand import DEFAULT_WINDOW_S, demand_curve
from imgproc.core.metrics.elasticity import elasticity
from imgproc.core.metrics.latency import latency_stats
from imgproc.core.metrics.record import RunRecord

#: Every key of a summary, in order, with its meaning and unit.
KEY_DOCS: dict[str, str] = {
    "trace": "name of the workload trace",
    "policy": "name of the scaling policy",
    "backend": "where the run happened (e.g. simulated or live)",
    "speed": "trace seconds per wall second a live run played at, every time here being in "
             "trace seconds; null for a simulated run",
    "duration_s": "length of the run, seconds",
    "jobs_submitted": "jobs submitted, count",
    "jobs_completed": "jobs that finished without error, count",
    "jobs_failed": "jobs that finished with an error, count",
    "jobs_lost": "jobs that never finished, count",
    "duplicates": "jobs delivered more than once, count",
    "work_seconds": "total service time of the trace's jobs (unknown ones skipped), seconds",
    "response_p50_s": "median response time (submit to finish) of completed jobs, seconds",
    "response_p95_s": "95th percentile response time of completed jobs, seconds",
    "response_p99_s": "99th percentile response time of completed jobs, seconds",
    "response_max_s": "longest response time of a completed job, seconds",
    "slowdown_mean": "mean of response / service over completed jobs with service > 0, ratio",
    "slo_s": "response-time objective, seconds",
    "slo_met_share": "submitted jobs completed within slo_s (lost and failed miss), share 0-1",
    "vm_seconds": "machine time from request to release (or run end), seconds",
    "billed_seconds": "machine time billed per second with a 60 s minimum per machine, seconds",
    "billed_hours": "machine hours billed per started hour, at least one per machine, hours",
    "price_per_hour": "price of one machine hour, money",
    "cost_per_second_model": "billed_seconds / 3600 * price_per_hour, money",
    "cost_per_hour_model": "billed_hours * price_per_hour, money",
    "machines_peak": "most machines preparing, booting, running or draining at once, machines",
    "machines_mean": "time-weighted mean of those machines over the run, machines",
    "scaling_actions": "scaling actions the policy took, count",
    "demand_window_s": "sliding window over which demand's arrival rate is taken, seconds",
    "a_u": "mean workers missing, max(demand - running, 0), workers",
    "a_o": "mean workers in excess, max(running - demand, 0), workers",
    "t_u": "share of time with fewer running workers than demand, share 0-1",
    "t_o": "share of time with more running workers than demand, share 0-1",
    "instability": "share of steps in which running workers and demand move oppositely, 0-1",
    "jitter": "supply changes minus demand changes, per minute",
}

#: The order of a summary's keys.
SUMMARY_KEYS: tuple[str, ...] = tuple(KEY_DOCS)


def json_value(value: object) -> object:
    """A JSON-safe copy: NumPy scalars unwrapped, floats rounded, NaN/inf to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def demand_and_supply(
    record: RunRecord,
    arrival_s: np.ndarray,
    service_s: np.ndarray,
    slo_s: float = 2.0,
    window_s: float = DEFAULT_WINDOW_S,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid times, demand and supply (running machines) of a run, for metrics and plots."""
    grid = np.asarray(record.series.column("t"), dtype=float)
    demand = demand_curve(arrival_s, service_s, grid, window_s=window_s, slo_s=slo_s)
    supply = np.asarray(record.series.column("running"), dtype=float)
    return grid, demand, supply


def _peak(value: float) -> int | None:
    return int(value) if math.isfinite(value) else None


def summarize(
    record: RunRecord,
    arrival_s: np.ndarray,
    service_s: np.ndarray,
    slo_s: float = 2.0,
    demand_window_s: float = DEFAULT_WINDOW_S,
    price_per_hour: float = DEFAULT_PRICE_PER_HOUR,
) -> dict:
    """Every metric of ``record``, keyed and ordered as :data:`SUMMARY_KEYS`."""
    lat = latency_stats(record.jobs, slo_s)
    cost = cost_stats(record.machines, record.duration_s, price_per_hour)
    peak, mean = fleet_peak_and_mean(record.series, record.duration_s)
    _, demand, supply = demand_and_supply(record, arrival_s, service_s, slo_s, demand_window_s)
    el = elasticity(demand, supply, record.series.step_s)
    raw = {
        "trace": record.trace,
        "policy": record.policy,
        "backend": record.backend,
        "speed": record.params.get("speed"),
        "duration_s": float(record.duration_s),
        "jobs_submitted": lat.submitted,
        "jobs_completed": lat.completed,
        "jobs_failed": lat.failed,
        "jobs_lost": lat.lost,
        "duplicates": int(record.jobs.duplicates),
        "work_seconds": float(np.nansum(np.asarray(service_s, dtype=float))),
        "response_p50_s": lat.p50_s,
        "response_p95_s": lat.p95_s,
        "response_p99_s": lat.p99_s,
        "response_max_s": lat.max_s,
        "slowdown_mean": lat.slowdown_mean,
        "slo_s": lat.slo_s,
        "slo_met_share": lat.slo_met_share,
        "vm_seconds": cost.vm_seconds,
        "billed_seconds": cost.billed_seconds,
        "billed_hours": cost.billed_hours,
        "price_per_hour": cost.price_per_hour,
        "cost_per_second_model": cost.cost_per_second_model,
        "cost_per_hour_model": cost.cost_per_hour_model,
        "machines_peak": _peak(peak),
        "machines_mean": mean,
        "scaling_actions": int(record.scaling_actions),
        "demand_window_s": float(demand_window_s),
        "a_u": el.a_u,
        "a_o": el.a_o,
        "t_u": el.t_u,
        "t_o": el.t_o,
        "instability": el.instability,
        "jitter": el.jitter,
    }
    return {key: json_value(raw[key]) for key in SUMMARY_KEYS}
