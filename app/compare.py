"""Every policy on every trace, side by side, against the bound no policy can beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imgproc.bootstrap.sim import simulate
from imgproc.core.trace import Trace
from imgproc.settings import Settings


@dataclass
class Comparison:
    """Rows of summaries, one per (trace, policy), plus one lower-bound row per trace."""

    rows: list[dict]


def lower_bound(trace: Trace, slo_s: float) -> dict:
    """What an oracle with instant, free machines would get: each job served on arrival.

    VM time equals the total service time, response time equals service time,
    slowdown is 1.
    """
    service = trace.service_s[~np.isnan(trace.service_s)]
    pct = ((lambda q: round(float(np.percentile(service, q)), 6)) if len(service)
           else (lambda q: None))
    return {
        "trace": trace.name, "policy": "lower-bound", "backend": "bound",
        "jobs_submitted": len(trace), "jobs_lost": 0, "jobs_failed": 0,
        "response_p50_s": pct(50), "response_p95_s": pct(95), "response_p99_s": pct(99),
        "slowdown_mean": 1.0,
        "slo_met_share": round(float(np.mean(service <= slo_s)), 6) if len(service) else None,
        "vm_seconds": round(trace.work_s, 6), "work_seconds": round(trace.work_s, 6),
        "cost_ratio": 1.0,
    }


def compare(settings: Settings, traces: list[Trace], policies: list[str]) -> Comparison:
    rows: list[dict] = []
    for trace in traces:
        rows.append(lower_bound(trace, settings.slo_s))
        for name in policies:
            summary = dict(simulate(settings, trace, policy_name=name).summary)
            work = summary.get("work_seconds") or 0.0
            summary["cost_ratio"] = round(summary["vm_seconds"] / work, 4) if work else None
            rows.append(summary)
    return Comparison(rows)
