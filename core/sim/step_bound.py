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
from dataclasses import dataclass

from imgproc.core.errors import ConfigurationError
from imgproc.core.trace import Trace


@dataclass(frozen=True)
class StepBound:
    """With ``machines`` at the step, at most ``share`` of the jobs within the objective."""

    machines: int
    share: float


def share_bound(trace: Trace, onset_s: float, machines: int, boot_delay_s: float,
                slo_s: float) -> float:
    """The largest share of the trace's jobs within ``slo_s`` that a policy with
    ``machines`` machines at a step at ``onset_s`` can reach (see the module's doc)."""
    _check(trace, machines, boot_delay_s, slo_s)
    arrivals, services = trace.arrival_s.tolist(), trace.service_s.tolist()
    reinforced = onset_s + boot_delay_s
    free_at = [onset_s] * machines
    late = 0
    for arrival, service in zip(arrivals, services, strict=True):
        if arrival < onset_s:
            continue
        start = max(arrival, reinforced)
        if free_at and free_at[0] < start:
            start = max(arrival, heapq.heappop(free_at))
            heapq.heappush(free_at, start + service)
        if start - arrival + service > slo_s:
            late += 1
    return 1.0 - late / len(arrivals) if arrivals else 1.0


def step_bounds(trace: Trace, onset_s: float, boot_delay_s: float, slo_s: float,
                share: float) -> list[StepBound]:
    """The bound for 0, 1, 2... machines at the step, up to the first that reaches
    ``share``, or that reaches the ceiling: what machines enough to start every job at
    its arrival give (a job longer than the objective is late however many there are)."""
    goal = min(share, ceiling(trace, onset_s, slo_s))
    bounds = [StepBound(0, share_bound(trace, onset_s, 0, boot_delay_s, slo_s))]
    while bounds[-1].share < goal:
        machines = bounds[-1].machines + 1
        bounds.append(StepBound(machines,
                                share_bound(trace, onset_s, machines, boot_delay_s, slo_s)))
    return bounds


def ceiling(trace: Trace, onset_s: float, slo_s: float) -> float:
    """The share within the objective if every job from the step on starts at its arrival."""
    if not len(trace):
        return 1.0
    late = (trace.arrival_s >= onset_s) & (trace.service_s > slo_s)
    return 1.0 - float(late.sum()) / len(trace)


def _check(trace: Trace, machines: int, boot_delay_s: float, slo_s: float) -> None:
    if trace.has_unknown_service():
        raise ConfigurationError(
            f"trace {trace.name}: some jobs have no service_s; the bound needs one for every job")
    if machines < 0 or boot_delay_s < 0 or slo_s <= 0:
        raise ConfigurationError(
            f"expected machines >= 0, boot delay >= 0 and objective > 0, got {machines}, "
            f"{boot_delay_s} and {slo_s}")
