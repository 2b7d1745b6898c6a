"""The clairvoyant oracle: the cheapest supply of machines this module finds under which
every job (``share=1``), or a share of them (``0.95``), meets the response-time objective.

The world is the simulator's: one FIFO queue, identical machines serving one job at a
time, a machine ready ``boot_s`` after its request and billed from its request until
``release_s`` after its release, at least ``min_billed_s`` (the per-second model of
:mod:`imgproc.core.metrics.cost`). ``floor`` machines (the scaler's ``min_workers``)
stay from the start to the end of the run, running at 0 (``warm``) or asked for at 0.

A heuristic, not a bound. A pass places the jobs in arrival order, each by its
*deadline*, the latest time a machine may take it (``arrival + slo - service``, tightened
to every later job's, since a FIFO queue takes jobs in order), on one of: a busy machine
that frees in time, an idle one (its idle gap is paid), or a new one asked for ``boot_s``
before it takes the job. An idle machine goes once keeping it would cost more than asking
for a new one (``restart_s``, the break-even time). A pass's :data:`Rule` says how much of
a job's slack it may spend waiting for a busy machine while an idle one could take it
(all of it packs work onto few machines, so that the others can go; less keeps slack for
the next burst), and whether a new machine takes its job at once or at its deadline
(asked for later). Each of :data:`RULES` makes a pass; the cheapest wins. For ``share <
1`` the passes of :data:`LOOSE` may also make jobs late: where they would ask for a
machine they go on without it while the jobs it makes late stay within an allowance, or
they plan for a looser objective; the cheapest pass with few enough late jobs wins.
:mod:`imgproc.core.sim.oracle_check` replays the winner through an exact FIFO queue,
which is what the oracle reports (``docs/policies.md``, "The oracle", says how close to
exhaustive search it comes).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from imgproc.core.metrics.cost import MIN_BILLED_S

#: Idle machines looked at for each job (the most recently freed): enough to find one
#: still within its first billed minute, few enough to stay fast.
IDLE_CANDIDATES = 4
#: A pass's rule: how much of a job's slack it may wait for a busy machine while an idle
#: one could take it (1: all, packing; 0: none, the earliest), and whether a new machine
#: takes its job at the job's deadline (asked for as late as can be) or at once.
Rule = tuple[float, bool]
#: The passes every share tries, the most often cheapest first.
RULES: tuple[Rule, ...] = ((0.25, True), (0.5, False), (0.25, False), (1.0, False),
                           (1.0, True))
#: Passes that may make jobs late, the most often cheapest first: a rule; how many late
#: jobs it accepts for each machine it does without (where it would ask for one, it goes
#: on without it while no more jobs are late for it); and how many times the objective it
#: plans for (a looser one, lateness still counted against the real one).
LOOSE: tuple[tuple[Rule, int, float], ...] = (
    ((0.5, False), 256, 1.0), ((0.25, False), 0, 1.5), ((1.0, False), 256, 1.0),
    ((0.5, False), 64, 1.0), ((0.25, False), 0, 1.25), ((0.0, False), 0, 1.5),
    ((1.0, False), 16, 1.0))
#: Jobs times passes a search makes at most (but two of :data:`RULES` and one of
#: :data:`LOOSE` always): traces up to 50,000 jobs get them all, 100,000 jobs six.
PASS_JOBS = 600_000
_EPS = 1e-9
_PINNED_IDLE, _IDLE, _BUSY, _NEW = range(4)


@dataclass(frozen=True)
class OracleModel:
    """The machines' timing and billing, and the objective, as the simulator has them."""

    slo_s: float
    boot_s: float = 30.0
    release_s: float = 0.0
    overhead_s: float = 0.0
    dispatch_s: float = 0.0
    floor: int = 0
    warm: bool = True
    min_billed_s: float = MIN_BILLED_S

    @property
    def restart_s(self) -> float:
        """Idle longer than this, a machine costs more kept than let go and asked for again."""
        return max(self.boot_s + self.release_s, self.min_billed_s)

    @property
    def floor_ready_s(self) -> float:
        return 0.0 if self.warm else self.boot_s


@dataclass(frozen=True)
class PlannedMachine:
    """One machine of a plan: asked for, ready, let go (``inf``: kept to the run's end)."""

    requested_at: float
    ready_at: float
    release_at: float


def allowed_misses(jobs: int, share: float) -> int:
    """How many of ``jobs`` may miss the objective when ``share`` of them must meet it."""
    return jobs - math.ceil(share * jobs - _EPS)


def deadlines(arrival: np.ndarray, service: np.ndarray, model: OracleModel) -> np.ndarray:
    """Each job's latest take by a machine for it to meet the objective; inf for a job no
    supply can serve in time (longer than the objective, or due before any machine can be
    ready). A FIFO queue takes jobs in order, so a job must in fact be taken by the
    smallest deadline of its own and every later job's."""
    own = arrival + model.slo_s - service - model.dispatch_s
    earliest = model.floor_ready_s if model.floor else model.boot_s
    feasible = (own >= arrival) & (own >= earliest)
    return np.where(feasible, own, np.inf)


def plan(arrival: np.ndarray, service: np.ndarray, model: OracleModel,
         share: float = 1.0) -> list[PlannedMachine]:
    """The cheapest plan found for ``share`` of the jobs to meet the objective."""
    return plans(arrival, service, model, (share,))[share]


def plans(arrival: np.ndarray, service: np.ndarray, model: OracleModel,
          shares: tuple[float, ...] = (1.0, 0.95)) -> dict[float, list[PlannedMachine]]:
    """The cheapest plan found for each share; the passes every share tries are made once."""
    arrival, service = np.asarray(arrival, float), np.asarray(service, float)
    own = deadlines(arrival, service, model)
    forced = int(np.isinf(own).sum())
    rules, loose = _portfolio(len(arrival))
    base = [_Planner(arrival, service, own, own, model, rule).run() for rule in rules]
    found = {}
    for share in shares:
        budget = max(0, allowed_misses(len(arrival), share) - forced)
        tried = base + [_loose_pass(arrival, service, own, model, budget, *how)
                        for how in (loose if budget else ())]
        kept = [p for p in tried if p.misses <= budget] or base
        found[share] = min(kept, key=lambda p: p.cost).machines()
    return found


def _portfolio(jobs: int) -> tuple[tuple[Rule, ...], tuple[tuple[Rule, int, float], ...]]:
    """The passes to make for ``jobs`` jobs (:data:`PASS_JOBS`)."""
    passes = PASS_JOBS // max(jobs, 1)
    rules = RULES[:max(2, (passes + 1) // 2)]
    return rules, LOOSE[:max(1, passes - len(rules))]


def _loose_pass(arrival: np.ndarray, service: np.ndarray, own: np.ndarray,
                model: OracleModel, budget: int, rule: Rule, allowance: int,
                factor: float) -> _Planner:
    """A pass that may make up to ``budget`` jobs late (:data:`LOOSE`)."""
    planned = (own if factor == 1.0
               else deadlines(arrival, service, replace(model, slo_s=model.slo_s * factor)))
    return _Planner(arrival, service, own, planned, model, rule).run(
        budget if allowance else 0, allowance)


class _Planner:
    """One pass over the jobs in arrival order by ``rule`` (see the module docstring):
    ``own`` are the jobs' deadlines, by which lateness is counted, ``planned`` the (perhaps
    looser) ones the pass plans for."""

    def __init__(self, arrival: np.ndarray, service: np.ndarray, own: np.ndarray,
                 planned: np.ndarray, model: OracleModel, rule: Rule) -> None:
        self.arrival = arrival.tolist()
        self.work = (service + model.dispatch_s + model.overhead_s).tolist()
        self.own = own.tolist()
        self.latest = np.minimum.accumulate(planned[::-1])[::-1].tolist()
        self.m = model
        self.wait, self.late_new = rule
        self.boot, self.gone, self.least = model.boot_s, model.release_s, model.min_billed_s
        self.restart = model.restart_s
        self.new_cost = np.maximum(model.boot_s + np.asarray(self.work) + model.release_s,
                                   model.min_billed_s).tolist()
        self.requested: list[float] = [0.0] * model.floor
        self.pinned: list[bool] = [True] * model.floor
        self.free: list[float] = [model.floor_ready_s] * model.floor
        self.busy: list[tuple[float, int]] = [(model.floor_ready_s, k)
                                             for k in range(model.floor)]
        self.idle: deque[int] = deque()
        self.pinned_idle: list[int] = []
        self.prev = 0.0
        self.misses = 0

    # ---- the pass ----------------------------------------------------------------

    def run(self, budget: int = 0, allowance: int = 0) -> _Planner:
        """Place every job; with a budget, do without a new machine where at most
        ``allowance`` jobs (and the budget's rest) are late for it."""
        i, n, calm_until = 0, len(self.arrival), -1
        while i < n:
            option = self._best(i, allow_new=True)
            if (budget and option[2] == _NEW and i > calm_until
                    and self.misses < budget and self._has_machines()):
                state = self._save()
                reached, ok = self._without_new(i, min(allowance, budget - self.misses))
                if ok:
                    i = reached
                    continue
                self._restore(state)
                calm_until = reached
            self._apply(i, option)
            i += 1
        return self

    def _without_new(self, i: int, allowance: int) -> tuple[int, bool]:
        """Jobs from ``i`` on, on the machines there are, until one is on time; returns
        where it stopped and whether ``i`` was late and no more than ``allowance`` were."""
        if self._best(i, allow_new=False)[1] <= self.latest[i]:
            return i, False  # an existing machine serves it in time, dearer than a new one
        late, n = 0, len(self.arrival)
        while i < n:
            option = self._best(i, allow_new=False)
            on_time = option[1] <= self.latest[i]
            late += self._apply(i, option)
            i += 1
            if late > allowance:
                return i, False
            if on_time:
                break
        return i, True

    @property
    def cost(self) -> float:
        """The plan's bill (the floor's is the same in every plan and left out)."""
        return sum(self._bill(k, self.free[k]) for k in range(len(self.free)))

    def machines(self) -> list[PlannedMachine]:
        boot = self.m.boot_s
        return [PlannedMachine(r, self.m.floor_ready_s, math.inf) if pinned
                else PlannedMachine(r, r + boot, free)
                for r, pinned, free in zip(self.requested, self.pinned, self.free, strict=True)]

    # ---- one job -----------------------------------------------------------------

    def _best(self, i: int, allow_new: bool) -> tuple[float, float, int, int]:
        """How to take job ``i`` (cost, take, kind, machine): by the rule among the ways
        in time, or the earliest way if none is. (Written for speed: it runs per job.)"""
        t0 = self.arrival[i]
        if self.prev > t0:
            t0 = self.prev
        self._settle(t0)
        deadline, work = self.latest[i], self.work[i]
        if t0 > deadline:
            return self._earliest(t0, i, allow_new)
        if self.pinned_idle:
            return 0.0, t0, _PINNED_IDLE, self.pinned_idle[-1]
        best = self._cheapest_idle(t0, work) if self.idle else None
        busy = self.busy
        if busy and busy[0][0] <= (deadline if best is None else
                                   t0 + self.wait * (deadline - t0)):
            at, k = busy[0]
            cost = self._extra(k, at, at + work)
            if best is None or cost < best[0]:
                best = (cost, at, _BUSY, k)
        take = t0 if t0 > self.boot else self.boot
        cost = self.new_cost[i]
        if allow_new and take <= deadline and (best is None or cost < best[0]):
            if self.late_new and not math.isinf(deadline):
                take = deadline
            best = (cost, take, _NEW, -1)
        return best or self._earliest(t0, i, allow_new)

    def _cheapest_idle(self, t0: float, work: float) -> tuple[float, float, int, int] | None:
        best = None
        idle, free = self.idle, self.free
        for j in range(1, min(IDLE_CANDIDATES, len(idle)) + 1):
            k = idle[-j]
            cost = self._extra(k, free[k], t0 + work)
            if best is None or cost < best[0]:
                best = (cost, t0, _IDLE, k)
        return best

    def _earliest(self, t0: float, i: int, allow_new: bool
                  ) -> tuple[float, float, int, int]:
        if self.pinned_idle:
            return 0.0, t0, _PINNED_IDLE, self.pinned_idle[-1]
        if self.idle:
            return 0.0, t0, _IDLE, self.idle[-1]
        take = max(t0, self.boot)
        if self.busy and (self.busy[0][0] <= take or not allow_new):
            return 0.0, self.busy[0][0], _BUSY, self.busy[0][1]
        return self.new_cost[i], take, _NEW, -1

    def _apply(self, i: int, option: tuple[float, float, int, int]) -> bool:
        """Job ``i`` taken as ``option`` says; whether it is late."""
        _, take, kind, k = option
        if kind == _PINNED_IDLE:
            self.pinned_idle.pop()
        elif kind == _IDLE:
            self._take_idle(k)
        elif kind == _BUSY:
            heapq.heappop(self.busy)
        else:
            k = len(self.free)
            self.requested.append(take - self.boot)
            self.pinned.append(False)
            self.free.append(take)
        self.free[k] = take + self.work[i]
        heapq.heappush(self.busy, (self.free[k], k))
        self.prev = take
        late = take > self.own[i]
        self.misses += late
        return late

    def _take_idle(self, k: int) -> None:
        j = 1
        while self.idle[-j] != k:
            j += 1
        del self.idle[-j]

    def _settle(self, t0: float) -> None:
        """Machines free by ``t0`` become idle; idle ones past the break-even time go."""
        busy, idle = self.busy, self.idle
        while busy and busy[0][0] <= t0:
            _, k = heapq.heappop(busy)
            (self.pinned_idle if self.pinned[k] else idle).append(k)
        too_old = t0 - self.restart
        while idle and self.free[idle[0]] < too_old:
            idle.popleft()

    # ---- billing and state -----------------------------------------------------------

    def _bill(self, k: int, until: float) -> float:
        """Machine ``k``'s bill if it went at ``until`` (the floor's counts as nothing)."""
        if self.pinned[k]:
            return 0.0
        billed = until - self.requested[k] + self.gone
        return billed if billed > self.least else self.least

    def _extra(self, k: int, until: float, later: float) -> float:
        """What keeping machine ``k`` from ``until`` to ``later`` adds to its bill."""
        return self._bill(k, later) - self._bill(k, until)

    def _has_machines(self) -> bool:
        return bool(self.busy or self.idle or self.pinned_idle)

    def _save(self) -> tuple:
        return (list(self.free), list(self.busy), deque(self.idle), list(self.pinned_idle),
                self.prev, self.misses)

    def _restore(self, state: tuple) -> None:
        self.free, self.busy, self.idle, self.pinned_idle, self.prev, self.misses = state
        del self.requested[len(self.free):], self.pinned[len(self.free):]
