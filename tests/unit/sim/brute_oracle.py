"""The cheapest supply by exhaustive search, for traces of a handful of jobs with whole-second
times: every way to take the jobs in FIFO order (a whole second each, on time, or late for
at most ``misses`` of them) on every grouping of them onto machines."""

from __future__ import annotations

import math

from imgproc.core.sim.oracle import OracleModel


def brute_force_cost(jobs: list[tuple[int, int]], model: OracleModel, misses: int = 0) -> float:
    """The least bill of any schedule in which at most ``misses`` jobs miss the objective."""
    horizon = int(max(a for a, _ in jobs) + model.slo_s + model.boot_s
                  + sum(s for _, s in jobs))
    best = [math.inf]
    floor = [[model.floor_ready_s, -math.inf]] * model.floor

    def search(i: int, prev: int, chains: list[list[float]], late: int) -> None:
        bill = _bill(chains, model)
        if bill >= best[0]:
            return  # a bill only grows as jobs are added
        if i == len(jobs):
            best[0] = bill
            return
        arrival, service = jobs[i]
        deadline = arrival + model.slo_s - service
        for take in range(max(arrival, prev), horizon + 1):
            is_late = take > deadline
            if late + is_late > misses:
                break
            for k, (first, last) in enumerate(chains):
                if last <= take and (k >= model.floor or first <= take):
                    grown = [list(c) for c in chains]
                    grown[k] = [first, take + service]
                    search(i + 1, take, grown, late + is_late)
            if take >= model.boot_s:
                search(i + 1, take, [*chains, [take, take + service]], late + is_late)

    search(0, 0, [list(c) for c in floor], 0)
    return best[0]


def _bill(chains: list[list[float]], model: OracleModel) -> float:
    end = max((last for _, last in chains), default=0.0)
    total = 0.0
    for k, (first, last) in enumerate(chains):
        if k < model.floor:
            span = end
        elif last == -math.inf:
            continue
        else:
            span = last - (first - model.boot_s)
        total += max(span + model.release_s, model.min_billed_s)
    return total
