"""How far a live run is from the simulated one of the same trace: the simulator is worth
its speed only if it predicts the live system."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The metrics compared, and whether each is one of the goal's (p95, cost, peak).
COMPARED: dict[str, bool] = {
    "response_p50_s": False,
    "response_p95_s": True,
    "slo_met_share": False,
    "vm_seconds": True,
    "machines_peak": True,
    "machines_mean": False,
    "scaling_actions": False,
}
DEFAULT_TOLERANCE = 0.10


@dataclass(frozen=True)
class Difference:
    """One metric, simulated and live; ``relative`` is (live - simulated) / simulated."""

    metric: str
    simulated: float | None
    live: float | None
    relative: float | None
    goal: bool
    within: bool


def relative_difference(simulated: float | None, live: float | None) -> float | None:
    """(live - simulated) / simulated; 0 when both are 0; None when either is unknown."""
    if simulated is None or live is None:
        return None
    if simulated == 0:
        return 0.0 if live == 0 else math.inf
    return (live - simulated) / abs(simulated)


def differences(simulated: dict, live: dict,
                tolerance: float = DEFAULT_TOLERANCE) -> list[Difference]:
    """Each compared metric of two summaries, and whether it is within ``tolerance``."""
    rows = []
    for metric, goal in COMPARED.items():
        sim, real = simulated.get(metric), live.get(metric)
        rel = relative_difference(sim, real)
        within = rel is not None and abs(rel) <= tolerance
        rows.append(Difference(metric, sim, real, rel, goal, within))
    return rows


def as_json(rows: list[Difference]) -> dict:
    """Metric to its relative difference and verdict, JSON-ready (infinite as None)."""
    return {r.metric: {"simulated": r.simulated, "live": r.live,
                       "relative": r.relative if r.relative is None or math.isfinite(r.relative)
                       else None,
                       "goal": r.goal, "within": r.within} for r in rows}
