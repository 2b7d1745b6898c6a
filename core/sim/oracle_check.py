"""The oracle's plan replayed through an exact FIFO queue: what it really does and costs.

A plan (:mod:`imgproc.core.sim.oracle`) says when each machine is asked for, is ready
and is let go. The replay serves the jobs as the simulator does: in arrival order, each
taken by a machine the moment one is ready and free (after the profile's dispatch time
when it finds one idle on arrival), a machine taking jobs only between its ready time and
its release (a busy one finishes its job first, billed until then), every machine still
there let go at the run's end (the last job's end). Among idle machines the one kept
longest takes the job, so that short-lived ones are free to go.

Taking each job as early as the machines allow, the replay takes none later than the
plan did (by induction over the jobs: at the plan's time for a job, fewer earlier jobs
still run than in the plan, so a machine is free), so every job on time in the plan is on
time here; the response times and the bill reported are the replay's.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from imgproc.core.metrics.record import JobOutcomes, MachineSpan
from imgproc.core.sim.oracle import OracleModel, PlannedMachine, plan


@dataclass(frozen=True)
class OracleRun:
    """A replayed plan: jobs' times, machines' spans as billed, the run's length."""

    jobs: JobOutcomes
    machines: list[MachineSpan]
    duration_s: float

    def met_share(self, slo_s: float) -> float:
        response = self.jobs.end_s - self.jobs.submit_s
        return float(np.mean(response <= slo_s)) if len(response) else math.nan

    def fleet_peak_and_mean(self, release_s: float) -> tuple[int, float]:
        """Most machines asked for and not yet let go at once, and their mean over the run
        (the simulator's fleet: a machine being torn down is not counted)."""
        edges = sorted([(m.requested_at, 1) for m in self.machines]
                       + [(m.released_at - release_s, -1) for m in self.machines
                          if m.released_at is not None])
        peak = alive = 0
        for _, step in edges:
            alive += step
            peak = max(peak, alive)
        span = sum((m.released_at or 0.0) - release_s - m.requested_at for m in self.machines)
        return peak, span / self.duration_s if self.duration_s > 0 else math.nan


def solve(arrival: np.ndarray, service: np.ndarray, model: OracleModel,
          share: float = 1.0) -> OracleRun:
    """The oracle for ``share`` of the jobs: its plan, replayed."""
    return replay(arrival, service, plan(arrival, service, model, share), model)


def replay(arrival: np.ndarray, service: np.ndarray, machines: list[PlannedMachine],
           model: OracleModel) -> OracleRun:
    """Serve the jobs FIFO on ``machines``; see the module docstring."""
    arrivals = np.asarray(arrival, float).tolist()
    services = np.asarray(service, float).tolist()
    n = len(arrivals)
    start, end = [math.nan] * n, [math.nan] * n
    queue = _Machines(machines)
    prev = 0.0
    for i in range(n):
        a = arrivals[i]
        found = queue.take(max(a, prev))
        if found is None:
            break  # no machine is left: the rest are lost (a plan never leaves them so)
        k, take = found
        start[i] = take + (model.dispatch_s if take == a else 0.0)
        end[i] = start[i] + services[i]
        queue.busy_until(k, end[i] + model.overhead_s)
        prev = take
    duration = max(queue.last_free, default=0.0) if n else 0.0
    jobs = JobOutcomes(submit_s=np.asarray(arrivals, float), start_s=np.asarray(start),
                       end_s=np.asarray(end), service_s=np.asarray(services, float),
                       failed=np.zeros(n, dtype=bool))
    return OracleRun(jobs, queue.spans(duration, model.release_s), duration)


class _Machines:
    """The plan's machines as the replay sees them: waiting to be ready or free, idle."""

    def __init__(self, machines: list[PlannedMachine]) -> None:
        self.plan = machines
        self.free = [m.ready_at for m in machines]
        self.used_until = [-math.inf] * len(machines)
        self.waiting = [(m.ready_at, k) for k, m in enumerate(machines)]
        heapq.heapify(self.waiting)
        self.idle: list[tuple[float, int]] = []  # (-release, machine): kept longest first

    @property
    def last_free(self) -> list[float]:
        return [t for t in self.used_until if t > -math.inf]

    def take(self, t0: float) -> tuple[int, float] | None:
        """The machine that takes a job queued since ``t0``, and when."""
        while self.waiting and self.waiting[0][0] <= t0:
            _, k = heapq.heappop(self.waiting)
            heapq.heappush(self.idle, (-self.plan[k].release_at, k))
        while self.idle:
            release, k = heapq.heappop(self.idle)
            if -release >= t0:
                return k, t0
        while self.waiting:
            at, k = heapq.heappop(self.waiting)
            if at <= self.plan[k].release_at:
                return k, at
        return None

    def busy_until(self, k: int, t: float) -> None:
        self.free[k] = self.used_until[k] = t
        heapq.heappush(self.waiting, (t, k))

    def spans(self, end_s: float, release_s: float) -> list[MachineSpan]:
        """Each machine billed from its request to ``release_s`` after it went: at its
        release or the end of its last job, whichever is later, or at the run's end."""
        spans = []
        for k, m in enumerate(self.plan):
            gone = min(max(m.release_at, self.used_until[k]), end_s)
            gone = max(gone, m.requested_at)
            ready = m.ready_at if m.ready_at <= gone else None
            spans.append(MachineSpan(f"oracle-{k + 1:04d}", m.requested_at, ready,
                                     gone + release_s))
        return spans
