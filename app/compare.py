"""Every policy on every trace, side by side, against the clairvoyant oracle.

For each trace, two rows come first: ``oracle-100`` and ``oracle-95``, the cheapest
supply of machines the oracle finds (``imgproc.core.sim.oracle``) under which every job,
or 95 % of them, meets the objective, with the run's boot delay, billing and starting
fleet. Every row then gets its cost as a ratio of ``oracle-95``'s. With replications,
each (trace, policy) row holds the mean of every metric over the runs and, under
``ci95``, the half-width of its 95 % confidence interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imgproc.bootstrap.sim import sim_settings, simulate
from imgproc.core.errors import ConfigurationError
from imgproc.core.metrics.confidence import mean_ci95
from imgproc.core.metrics.cost import cost_stats
from imgproc.core.metrics.latency import latency_stats
from imgproc.core.metrics.summary import SUMMARY_KEYS, json_value
from imgproc.core.sim.oracle import OracleModel, plans
from imgproc.core.sim.oracle_check import OracleRun, replay
from imgproc.core.trace import Trace
from imgproc.core.workload_gen import GeneratorSpec, generate
from imgproc.settings import Settings

#: The oracle's rows: their policy name and the share of jobs that meet the objective.
ORACLES = (("oracle-100", 1.0), ("oracle-95", 0.95))
#: The row every cost is compared with.
REFERENCE = "oracle-95"


@dataclass
class Comparison:
    """Rows of summaries: per trace, the oracle's rows, then one per policy."""

    rows: list[dict]


def compare(settings: Settings, traces: Sequence[Trace], policies: Sequence[str]) -> Comparison:
    rows: list[dict] = []
    for trace in traces:
        if trace.has_unknown_service():
            raise ConfigurationError(f"trace {trace.name}: some jobs have no service_s; "
                                     "the simulator needs one for every job")
        found = oracle_rows(settings, trace)
        found += [dict(simulate(settings, trace, policy_name=name).summary) for name in policies]
        rows += with_ratios(found)
    return Comparison(rows)


def replicate(settings: Settings, traces: Sequence[Trace], specs: Sequence[GeneratorSpec],
              policies: Sequence[str], seeds: int) -> Comparison:
    """``seeds`` comparisons, the k-th (from 0) with the simulator's seed and each generated
    trace's seed plus k, summarised as means with confidence intervals (one run: as is)."""
    runs = []
    for k in range(seeds):
        sim = settings.sim.model_copy(update={"seed": settings.sim.seed + k})
        generated = [generate(spec.model_copy(update={"seed": spec.seed + k})) for spec in specs]
        runs.append(compare(settings.model_copy(update={"sim": sim}), [*traces, *generated],
                            policies).rows)
    return Comparison(runs[0] if seeds == 1 else summarise_runs(runs))


def oracle_model(settings: Settings) -> OracleModel:
    """The machines as the simulator of these settings has them (a profile's lone start,
    stop, dispatch and overhead included) and the scaler's floor."""
    sim = sim_settings(settings)
    return OracleModel(
        slo_s=settings.slo_s, boot_s=sim.boot_delay_s + sim.costs.start(1),
        release_s=sim.release_delay_s + sim.costs.stop_s, overhead_s=sim.costs.job_overhead_s,
        dispatch_s=sim.costs.dispatch_s, floor=settings.scaler.min_workers,
        warm=sim.warm_start)


def oracle_rows(settings: Settings, trace: Trace) -> list[dict]:
    """The oracle's rows for ``trace``: each plan replayed through a FIFO queue, summarised
    with the keys of a run's summary (those of a policy's decisions left empty)."""
    model = oracle_model(settings)
    found = plans(trace.arrival_s, trace.service_s, model, tuple(s for _, s in ORACLES))
    return [_oracle_summary(settings, trace, name,
                            replay(trace.arrival_s, trace.service_s, found[share], model),
                            model.release_s)
            for name, share in ORACLES]


def _oracle_summary(settings: Settings, trace: Trace, name: str, run: OracleRun,
                    release_s: float) -> dict:
    lat = latency_stats(run.jobs, settings.slo_s)
    cost = cost_stats(run.machines, run.duration_s, settings.price_per_hour)
    peak, mean = run.fleet_peak_and_mean(release_s)
    raw = {
        "trace": trace.name, "policy": name, "backend": "oracle", "duration_s": run.duration_s,
        "jobs_submitted": lat.submitted, "jobs_completed": lat.completed,
        "jobs_failed": lat.failed, "jobs_lost": lat.lost, "duplicates": 0,
        "work_seconds": trace.work_s, "response_p50_s": lat.p50_s,
        "response_p95_s": lat.p95_s, "response_p99_s": lat.p99_s, "response_max_s": lat.max_s,
        "slowdown_mean": lat.slowdown_mean, "slo_s": lat.slo_s,
        "slo_met_share": lat.slo_met_share, "vm_seconds": cost.vm_seconds,
        "billed_seconds": cost.billed_seconds, "billed_hours": cost.billed_hours,
        "price_per_hour": cost.price_per_hour,
        "cost_per_second_model": cost.cost_per_second_model,
        "cost_per_hour_model": cost.cost_per_hour_model, "machines_peak": peak,
        "machines_mean": mean,
    }
    return {key: json_value(raw.get(key)) for key in SUMMARY_KEYS}


def with_ratios(rows: list[dict]) -> list[dict]:
    """``rows`` of one trace, each with its cost (billed seconds: VM-seconds with the
    per-machine minimum) and VM-seconds as ratios of the reference oracle's."""
    reference = next(r for r in rows if r["policy"] == REFERENCE)
    return [{**row,
             "cost_vs_oracle95": _ratio(row["billed_seconds"], reference["billed_seconds"]),
             "vm_seconds_vs_oracle95": _ratio(row["vm_seconds"], reference["vm_seconds"])}
            for row in rows]


def _ratio(value: float | None, reference: float | None) -> float | None:
    return round(value / reference, 4) if value is not None and reference else None


def summarise_runs(runs: list[list[dict]]) -> list[dict]:
    """One row per (trace, policy) of the replications, in the first run's order: each
    number the mean over the runs, its 95 % half-width under ``ci95``."""
    rows = []
    for first, *others in zip(*runs, strict=True):
        row: dict = {}
        half_widths: dict = {}
        for key, value in first.items():
            values = [value, *(other[key] for other in others)]
            if all(_is_number(v) for v in values):
                mean, half = mean_ci95(values)
                row[key], half_widths[key] = json_value(mean), json_value(half)
            else:
                row[key] = value if all(v == value for v in values) else None
        rows.append({**row, "replications": len(runs), "ci95": half_widths})
    return rows


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
