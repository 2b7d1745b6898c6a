"""``imgproc calibrate``: measure what the live system costs and make it a profile.

Every measurement is a live replay (the real deployer, scaler, provider and workers on
the configured RabbitMQ and ZooKeeper) with a constant fleet, no boot delay and speed 1,
read by :mod:`imgproc.core.calibration`.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import threading
from collections.abc import Callable, Sequence

import psutil

from imgproc.core.calibration import (
    dispatch_waits,
    fit_starts,
    job_gaps,
    jobs_trace,
    start_costs,
    start_trace,
    stop_times,
    typical,
)
from imgproc.core.clock import ClockSettings
from imgproc.core.metrics.record import RunRecord
from imgproc.core.sim.costs import Profile
from imgproc.core.trace import Trace
from imgproc.settings import Settings

DEFAULT_STARTS = (1, 2, 4, 8)


def calibration_settings(settings: Settings, workers: int) -> Settings:
    """A constant fleet of ``workers``, all asked for at once, no boot delay, on wall time."""
    provider = settings.provider.model_copy(update={"boot_delay_s": 0.0})
    return settings.model_copy(update={
        "policy": "constantsize", "policy_params": {"size": workers, "max_starting": workers},
        "provider": provider, "clock": ClockSettings(),
        "scaler": settings.scaler.model_copy(update={
            "interval_s": 1.0, "max_workers": workers, "max_starting": workers}),
    })


def replay(settings: Settings, trace: Trace, stop: threading.Event) -> RunRecord:
    from imgproc.bootstrap.live import build_live_replay

    return build_live_replay(settings, trace, stop=stop, grace_s=60.0).run()


def calibrate(settings: Settings, name: str, stop: threading.Event,
              starts: Sequence[int] = DEFAULT_STARTS, batch: int = 200, spaced: int = 30,
              say: Callable[[str], None] = print,
              run: Callable[[Settings, Trace, threading.Event], RunRecord] = replay) -> Profile:
    """Run the measuring replays and return the profile they make."""
    points: list[tuple[int, float]] = []
    stops: list[float] = []
    for workers in starts:
        record = run(calibration_settings(settings, workers), start_trace(workers), stop)
        costs = start_costs(record)
        points += [(workers, cost) for cost in costs]
        stops += stop_times(record)
        say(f"{workers} starting at once: start {_spread(costs)} s")
    fit = fit_starts(points)
    record = run(calibration_settings(settings, 1), jobs_trace(batch, spaced), stop)
    gaps = job_gaps(record, 0, batch)
    waits = dispatch_waits(record, batch)
    say(f"between two jobs: {_spread(gaps)} s; an idle worker takes a job in "
        f"{_spread(waits)} s; a released worker is gone in {_spread(stops)} s")
    return Profile(
        name=name, measured_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        machine=describe_host(), provider=settings.provider.kind,
        start_s=round(fit.alone_s, 4), start_per_concurrent_s=round(fit.per_concurrent_s, 4),
        dispatch_s=round(typical(waits, "dispatch"), 4),
        job_overhead_s=round(typical(gaps, "the time between jobs"), 4),
        stop_s=round(typical(stops, "stops"), 4),
    )


def describe_host() -> str:
    memory_gb = psutil.virtual_memory().total / 2**30
    return (f"{os.cpu_count()} cores, {memory_gb:.0f} GB, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def _spread(values: Sequence[float]) -> str:
    if not values:
        return "none measured"
    ordered = sorted(values)
    return f"median {ordered[len(ordered) // 2]:.3f} (min {ordered[0]:.3f}, " \
           f"max {ordered[-1]:.3f}, n={len(ordered)})"
