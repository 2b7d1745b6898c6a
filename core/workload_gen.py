"""Synthetic workload traces (the seed's recipe and five other arrival shapes),
and the summary figures of any trace.

A frozen :class:`GeneratorSpec` and its seed fully determine the
:class:`~imgproc.core.trace.Trace` that :func:`generate` returns: there is no
file I/O and no wall clock here, and all randomness comes from one
``np.random.Generator(np.random.PCG64(seed))``.

- ``normal`` and ``burst`` follow the 2012 seed's generator (SEED.md): one job
  every ``1/rate`` seconds (the first at ``1/rate``), and during the burst
  window one every ``1/(rate * burst_factor)`` seconds. As in the seed, the
  gap before a job is chosen from the time the previous job arrived: a job
  belongs to the burst when that time lies in ``[start, start + length]``
  (both ends included), and jobs are made while that time is before the end.
  With the defaults this gives the seed's 300 + 1501 + 5400 = 7201 jobs.
- ``diurnal``, ``flash-crowd``, ``ramp`` and ``on-off`` are non-homogeneous
  Poisson processes whose rate follows the shape, drawn by thinning.

Everything is vectorised with numpy, so a million jobs take well under a
second or two; the only per-job Python objects are the id strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from imgproc.core.errors import ConfigurationError
from imgproc.core.trace import Trace
from imgproc.core.validation import error_location

Shape = Literal["normal", "burst", "diurnal", "flash-crowd", "ramp", "on-off"]
ServiceDist = Literal["normal", "exponential", "lognormal", "pareto"]

MAX_JOBS = 20_000_000
_COUNT_EPS = 1e-6
_KNOB_OWNERS = MappingProxyType(
    {
        "burst_start_s": "burst",
        "burst_length_s": "burst",
        "burst_factor": "burst",
        "diurnal_period_s": "diurnal",
        "diurnal_amplitude": "diurnal",
        "flash_at_s": "flash-crowd",
        "flash_peak_factor": "flash-crowd",
        "flash_decay_s": "flash-crowd",
        "ramp_end_factor": "ramp",
        "on_s": "on-off",
        "off_s": "on-off",
        "lognormal_sigma": "lognormal",
        "pareto_alpha": "pareto",
    }
)


class GeneratorSpec(BaseModel):
    """What to generate. Times in seconds, rates in jobs per second."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shape: Shape = "normal"
    duration_s: float = Field(gt=0, allow_inf_nan=False)
    rate: float = Field(gt=0, allow_inf_nan=False, description="base rate, jobs/s")
    service_mean_s: float = Field(default=0.2, gt=0, allow_inf_nan=False)
    service_dist: ServiceDist = "normal"
    seed: int
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$", max_length=50)
    burst_start_s: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    burst_length_s: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    burst_factor: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    diurnal_period_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    diurnal_amplitude: float = Field(default=0.8, ge=0, le=1)
    flash_at_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    flash_peak_factor: float = Field(default=10.0, ge=1, allow_inf_nan=False)
    flash_decay_s: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    ramp_end_factor: float = Field(default=5.0, ge=0, allow_inf_nan=False)
    on_s: float = Field(default=120.0, gt=0, allow_inf_nan=False)
    off_s: float = Field(default=120.0, ge=0, allow_inf_nan=False)
    lognormal_sigma: float = Field(default=1.0, gt=0, le=5)
    pareto_alpha: float = Field(default=2.5, gt=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _coherent(self) -> GeneratorSpec:
        for knob in sorted(self.model_fields_set & _KNOB_OWNERS.keys()):
            owner = _KNOB_OWNERS[knob]
            if owner not in (self.shape, self.service_dist):
                raise ValueError(
                    f"{knob} applies only to '{owner}', but shape is '{self.shape}' "
                    f"and service_dist is '{self.service_dist}'"
                )
        self._check_times()
        draws = _draws(self)
        if draws > MAX_JOBS:
            raise ValueError(f"would draw about {draws:,.0f} arrivals; at most {MAX_JOBS:,}")
        return self

    def _check_times(self) -> None:
        starts = {
            "burst": ("burst_start_s", self.burst_start_s),
            "flash-crowd": ("flash_at_s", self.spike_s),
        }
        knob, start = starts.get(self.shape, ("", 0.0))
        if knob and start >= self.duration_s:
            raise ValueError(f"{knob} ({start}) must be before duration_s ({self.duration_s})")

    @property
    def prefix(self) -> str:
        """Job ids are ``<prefix>-000001``...; the name if given, else the shape."""
        return self.name or self.shape

    @property
    def period_s(self) -> float:
        return self.diurnal_period_s or self.duration_s

    @property
    def spike_s(self) -> float:
        return self.duration_s / 4 if self.flash_at_s is None else self.flash_at_s


def make_spec(**values: object) -> GeneratorSpec:
    """Build a spec, turning validation errors into one readable ConfigurationError."""
    try:
        return GeneratorSpec(**values)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigurationError(f"invalid workload spec: {problems}") from exc


def _describe(error: ErrorDetails) -> str:
    where = error_location(error)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing" or not where:
        return f"{where}: {message}" if where else message
    return f"{where}: {message} (got {error.get('input')!r})"


def generate(spec: GeneratorSpec) -> Trace:
    """The trace the spec describes; the same spec always gives the same trace."""
    rng = np.random.Generator(np.random.PCG64(spec.seed))
    if spec.shape in ("normal", "burst"):
        arrivals, users = _steady_arrivals(spec)
    else:
        arrivals = _poisson_arrivals(spec, rng)
        users = [spec.shape] * len(arrivals)
    services = service_times(spec, len(arrivals), rng)
    ids = [f"{spec.prefix}-{i:06d}" for i in range(1, len(arrivals) + 1)]
    return Trace(name=spec.prefix, ids=ids, arrival_s=arrivals, service_s=services, users=users)


def _draws(spec: GeneratorSpec) -> float:
    """Arrivals drawn: the jobs, or for a Poisson shape the candidates before thinning."""
    if spec.shape in ("normal", "burst"):
        return expected_jobs(spec)
    return _peak_rate(spec) * spec.duration_s


def expected_jobs(spec: GeneratorSpec) -> float:
    """Jobs the spec makes: exact for the seed's shapes, the mean for the others."""
    if spec.shape in ("normal", "burst"):
        return float(sum(phase.count for phase in _phases(spec)))
    return spec.rate * _integrated_rate_factor(spec)


@dataclass(frozen=True)
class _Phase:
    """Jobs ``start + gap, start + 2 gap, ...``, ``count`` of them, by ``user``."""

    start: float
    gap: float
    count: int
    user: str


def _count_below(start: float, gap: float, limit: float) -> int:
    """How many k >= 0 have ``start + k * gap < limit``."""
    return max(0, math.ceil((limit - start) / gap - _COUNT_EPS))


def _count_up_to(start: float, gap: float, limit: float) -> int:
    """How many k >= 0 have ``start + k * gap <= limit``."""
    return max(0, math.floor((limit - start) / gap + _COUNT_EPS) + 1)


def _phases(spec: GeneratorSpec) -> list[_Phase]:
    """The seed's recipe: steady, then (for ``burst``) faster, then steady again."""
    gap, end = 1.0 / spec.rate, spec.duration_s
    if spec.shape == "normal":
        return [_Phase(0.0, gap, _count_below(0.0, gap, end), "normal")]
    burst_gap = gap / spec.burst_factor
    burst_end = spec.burst_start_s + spec.burst_length_s
    before = _count_below(0.0, gap, min(spec.burst_start_s, end))
    t1 = before * gap
    during = min(_count_up_to(t1, burst_gap, burst_end), _count_below(t1, burst_gap, end))
    t2 = t1 + during * burst_gap
    after = _count_below(t2, gap, end)
    return [
        _Phase(0.0, gap, before, "normal"),
        _Phase(t1, burst_gap, during, "burst"),
        _Phase(t2, gap, after, "normal"),
    ]


def _steady_arrivals(spec: GeneratorSpec) -> tuple[np.ndarray, list[str]]:
    phases = _phases(spec)
    arrivals = np.concatenate(
        [p.start + p.gap * np.arange(1, p.count + 1, dtype=float) for p in phases]
    )
    users: list[str] = []
    for p in phases:
        users.extend([p.user] * p.count)
    return arrivals, users


def rate_at(spec: GeneratorSpec, t: np.ndarray) -> np.ndarray:
    """The arrival rate (jobs/s) of a Poisson shape at times ``t``."""
    base = np.full_like(t, spec.rate, dtype=float)
    if spec.shape == "diurnal":
        return base * (1 - spec.diurnal_amplitude * np.cos(2 * np.pi * t / spec.period_s))
    if spec.shape == "flash-crowd":
        since = t - spec.spike_s
        extra = (spec.flash_peak_factor - 1) * np.exp(-np.maximum(since, 0) / spec.flash_decay_s)
        return base * (1 + np.where(since >= 0, extra, 0.0))
    if spec.shape == "ramp":
        return base * (1 + (spec.ramp_end_factor - 1) * t / spec.duration_s)
    if spec.shape == "on-off":
        return np.where(np.mod(t, spec.on_s + spec.off_s) < spec.on_s, base, 0.0)
    return base


def _peak_rate(spec: GeneratorSpec) -> float:
    factor = {
        "diurnal": 1 + spec.diurnal_amplitude,
        "flash-crowd": spec.flash_peak_factor,
        "ramp": max(1.0, spec.ramp_end_factor),
    }.get(spec.shape, 1.0)
    return spec.rate * factor


def _integrated_rate_factor(spec: GeneratorSpec) -> float:
    """The integral of ``rate_at / rate`` over the trace, in seconds."""
    d = spec.duration_s
    if spec.shape == "diurnal":
        p = spec.period_s
        return d - spec.diurnal_amplitude * p / (2 * math.pi) * math.sin(2 * math.pi * d / p)
    if spec.shape == "flash-crowd":
        tail = 1 - math.exp(-max(d - spec.spike_s, 0.0) / spec.flash_decay_s)
        return d + (spec.flash_peak_factor - 1) * spec.flash_decay_s * tail
    if spec.shape == "ramp":
        return d * (1 + spec.ramp_end_factor) / 2
    if spec.shape == "on-off":
        cycle = spec.on_s + spec.off_s
        cycles, rest = divmod(d, cycle)
        return cycles * spec.on_s + min(rest, spec.on_s)
    return d


def _poisson_arrivals(spec: GeneratorSpec, rng: np.random.Generator) -> np.ndarray:
    """Thinning: a homogeneous process at the peak rate, each arrival kept with
    probability ``rate_at(t) / peak``."""
    peak = _peak_rate(spec)
    candidates = _homogeneous(peak, spec.duration_s, rng)
    keep = rng.random(len(candidates)) * peak < rate_at(spec, candidates)
    return candidates[keep]


def _homogeneous(rate: float, duration: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson arrivals at a constant rate in ``[0, duration)``, in order."""
    chunks: list[np.ndarray] = []
    start, remaining = 0.0, rate * duration
    while True:
        size = int(remaining + 6 * math.sqrt(remaining) + 16)
        times = start + np.cumsum(rng.exponential(1.0 / rate, size))
        chunks.append(times)
        if times[-1] >= duration:
            break
        start, remaining = float(times[-1]), rate * (duration - float(times[-1]))
    every = np.concatenate(chunks)
    return every[: np.searchsorted(every, duration)]


def service_times(spec: GeneratorSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` service times (seconds) whose distribution has mean ``service_mean_s``."""
    mean = spec.service_mean_s
    if spec.service_dist == "exponential":
        return rng.exponential(mean, n)
    if spec.service_dist == "lognormal":
        sigma = spec.lognormal_sigma
        return rng.lognormal(math.log(mean) - sigma**2 / 2, sigma, n)
    if spec.service_dist == "pareto":
        alpha = spec.pareto_alpha
        return mean * (alpha - 1) / alpha * (1 + rng.pareto(alpha, n))
    return _positive_normal(mean, mean / 10, n, rng)


def _positive_normal(mean: float, sd: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """N(mean, sd) truncated to > 0 by redrawing the non-positive draws."""
    values = rng.normal(mean, sd, n)
    bad = values <= 0
    while bad.any():
        values[bad] = rng.normal(mean, sd, int(bad.sum()))
        bad = values <= 0
    return values


@dataclass(frozen=True)
class TraceSummary:
    """The figures an operator wants before replaying a trace."""

    jobs: int
    duration_s: float
    mean_rate: float
    peak_rate: float
    window_s: float
    service_mean_s: float | None
    service_p50_s: float | None
    service_p95_s: float | None
    work_s: float
    unknown_service: int


def summarise(trace: Trace, window_s: float = 10.0) -> TraceSummary:
    """Counts, rates (peak over ``window_s`` windows) and service statistics."""
    n = len(trace)
    duration = trace.duration_s
    known = trace.service_s[~np.isnan(trace.service_s)]
    peak = 0.0
    if n:
        peak = float(np.unique(trace.arrival_s // window_s, return_counts=True)[1].max()) / window_s
    stats = _service_stats(known)
    return TraceSummary(
        jobs=n,
        duration_s=duration,
        mean_rate=n / duration if duration > 0 else 0.0,
        peak_rate=peak,
        window_s=window_s,
        service_mean_s=stats[0],
        service_p50_s=stats[1],
        service_p95_s=stats[2],
        work_s=trace.work_s,
        unknown_service=n - len(known),
    )


def _service_stats(known: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """Mean, median and 95th percentile, or Nones when no service time is known."""
    if not len(known):
        return None, None, None
    p50, p95 = np.percentile(known, [50, 95])
    return float(known.mean()), float(p50), float(p95)
