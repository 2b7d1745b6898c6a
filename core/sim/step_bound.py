"""The most any online policy can keep within the objective on a step it cannot foresee.

A policy decides from the past, so machines it asks for when a step of the load begins
serve a boot delay later at the earliest. Until then the step's jobs have only the
machines it already had. Whatever fleet a policy keeps, the step may come when that
fleet is smallest, because nothing before a step tells when it comes; and the smallest
fleet over a stretch of time is at most the mean, the VM-seconds over the stretch's
length. So a policy that spends V VM-seconds over a window of W seconds in which the
step could come meets the step, for some place of it, with at most ``floor(V / W)``
machines.

The bound is generous to the policy: it counts every job before the step as within the
objective; the machines at the step are free at that moment, even those still booting;
the step is seen at once, and unlimited machines serve from a boot delay after it; no
job pays a dispatch. The jobs from the step on are served first come first served by
the machines already there, or by the new ones, whichever starts them sooner.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from imgproc.core.errors import ConfigurationError
from imgproc.core.trace import Trace


@dataclass(frozen=True)
class StepBound:
    """With ``machines`` at the step, at most ``share`` of the jobs within the objective."""

    machines: int
    share: float


ROUNDING_S = 1e-6
"""A response this close to the objective counts as within: the simulator adds and
subtracts a job's overhead, so its rounding may put a tie on the other side."""


def share_bound(trace: Trace, onset_s: float, machines: int, boot_delay_s: float,
                slo_s: float) -> float:
    """The largest share of the trace's jobs within ``slo_s`` that a policy with
    ``machines`` machines at a step at ``onset_s`` can reach (see the module's doc)."""
    _check(trace, machines, boot_delay_s, slo_s)
    arrivals, services = trace.arrival_s.tolist(), trace.service_s.tolist()
    reinforced, late_after = onset_s + boot_delay_s, slo_s + ROUNDING_S
    free_at = [onset_s] * min(machines, len(arrivals))  # more than the jobs serve no more
    late = 0
    for arrival, service in zip(arrivals, services, strict=True):
        if arrival < onset_s:
            continue
        start = max(arrival, reinforced)
        if free_at and free_at[0] < start:
            start = max(arrival, heapq.heappop(free_at))
            heapq.heappush(free_at, start + service)
        if (start + service) - arrival > late_after:
            late += 1
    return 1.0 - late / len(arrivals) if arrivals else 1.0


def step_bounds(trace: Trace, onset_s: float, boot_delay_s: float, slo_s: float,
                share: float) -> list[StepBound]:
    """The bound for 0, 1, 2, 4, 8... machines at the step, and for the fewest that reach
    ``share`` and one fewer; if none does, for the fewest that give the most any number
    gives, that of a machine for each job (a job longer than the objective is late
    however many there are). The bound never falls as machines are added, so the fewest
    are found by doubling, then halving the gap: a few passes over the trace."""
    found: dict[int, float] = {}

    def bound(machines: int) -> float:
        if machines not in found:
            found[machines] = share_bound(trace, onset_s, machines, boot_delay_s, slo_s)
        return found[machines]

    enough = jobs_from(trace, onset_s)  # a machine each: every job starts at its arrival
    goal = min(share, bound(enough))
    low, high = 0, 1  # bound(low) < goal <= bound(high), once found
    if bound(low) < goal:
        while bound(high) < goal:
            low, high = high, min(high * 2, enough)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if bound(middle) < goal else (low, middle)
        bound(high - 1)
    last = min(m for m, value in found.items() if value >= goal)
    return [StepBound(machines, found[machines]) for machines in sorted(found) if machines <= last]


def jobs_from(trace: Trace, onset_s: float) -> int:
    """How many jobs arrive at the step or after it."""
    return int((trace.arrival_s >= onset_s).sum())


def _check(trace: Trace, machines: int, boot_delay_s: float, slo_s: float) -> None:
    if trace.has_unknown_service():
        raise ConfigurationError(
            f"trace {trace.name}: some jobs have no service_s; the bound needs one for every job")
    if machines < 0 or not boot_delay_s >= 0 or not 0 < slo_s < math.inf:
        raise ConfigurationError(
            f"trace {trace.name}: expected machines >= 0, a boot delay >= 0 and a finite "
            f"objective > 0, got {machines}, {boot_delay_s} and {slo_s}")
