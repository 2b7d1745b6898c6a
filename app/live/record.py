"""Turning what a live run left behind (results, machine records, state reports)
into the same :class:`RunRecord` the simulator produces, in the run's own clock."""

from __future__ import annotations

import math

import numpy as np

from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import StateReport
from imgproc.core.metrics.record import JobOutcomes, MachineSpan
from imgproc.core.results import ResultTally
from imgproc.core.trace import Trace


def scaled_service(trace: Trace, speed: float) -> np.ndarray:
    """Service times as the workers were asked to spend them (simulated jobs sped up)."""
    service = trace.service_s.copy()
    simulated = np.array([i not in trace.extras or not trace.extras[i].ops
                          for i in range(len(trace))], dtype=bool)
    service[simulated] = service[simulated] / speed
    return service


def job_outcomes(trace: Trace, tally: ResultTally, prefix: str, t0: float,
                 speed: float) -> JobOutcomes:
    n = len(trace)
    submit = trace.arrival_s / speed
    start = np.full(n, math.nan)
    end = np.full(n, math.nan)
    failed = np.zeros(n, dtype=bool)
    for i, job_id in enumerate(trace.ids):
        result = tally.results.get(prefix + job_id)
        if result is None:
            continue
        submit[i] = result.submitted_at - t0
        start[i] = result.started_at - t0
        end[i] = result.finished_at - t0
        failed[i] = result.status == "failed"
    return JobOutcomes(submit, start, end, scaled_service(trace, speed), failed, tally.duplicates)


def machine_spans(machines: list[Machine], t0: float) -> list[MachineSpan]:
    spans = []
    for m in machines:
        ready = m.details.get("ready_at")
        gone = m.state is MachineState.DESTROYED
        spans.append(MachineSpan(
            id=m.id, requested_at=m.requested_at - t0,
            ready_at=None if ready is None else float(ready) - t0,
            released_at=m.state_since - t0 if gone else None,
            failed=bool(m.reason),
        ))
    return spans


def scaling_actions(machines: list[Machine], reports: list[StateReport], until: float) -> int:
    """Rounds that changed the fleet: distinct seconds in which machines were asked
    for, plus distinct seconds in which a release began (before the final teardown)."""
    ups = {round(m.requested_at) for m in machines}
    release_began: dict[str, float] = {}
    for r in reports:
        if r.state in ("draining", "destroying"):
            release_began[r.machine_id] = min(r.at, release_began.get(r.machine_id, math.inf))
    downs = {round(at) for at in release_began.values() if at < until}
    return len(ups) + len(downs)
