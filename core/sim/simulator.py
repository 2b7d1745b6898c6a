"""The discrete-event simulation of a queue-fed worker fleet.

Jobs arrive at their trace times, wait in one FIFO queue, and are served one
at a time by running machines for their recorded service time. The real
:class:`~imgproc.core.scaler.Scaler` is called every interval on a manual
clock; it observes and acts through this object, which implements the
``QueueProbe``, ``MachineView`` and ``Fleet`` ports.

Arrivals are already sorted, so they are merged with the event heap instead
of being pushed onto it: half the heap traffic of a naive design.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable

import numpy as np

from imgproc.core.clock import ManualClock
from imgproc.core.errors import ConfigurationError
from imgproc.core.machines import STARTING, Machine, MachineState
from imgproc.core.metrics.record import JobOutcomes, RunRecord
from imgproc.core.observation import QueueStats
from imgproc.core.policies.base import Policy
from imgproc.core.scaler import RoundReport, Scaler, ScalerLimits
from imgproc.core.sim.machines import IDLE, SimMachine
from imgproc.core.sim.series import SeriesRecorder
from imgproc.core.sim.settings import SimSettings
from imgproc.core.trace import Trace

S = MachineState
COMPLETE, BOOTED, RELEASED, TICK, SAMPLE = range(5)


class Simulation:
    """One run of one policy on one trace; ``run()`` returns the record."""

    def __init__(
        self,
        trace: Trace,
        policy: Policy,
        limits: ScalerLimits | None = None,
        settings: SimSettings | None = None,
        on_sample: Callable[[Simulation], None] | None = None,
    ) -> None:
        if trace.has_unknown_service():
            raise ConfigurationError(
                f"trace {trace.name}: some jobs have no service_s; "
                "the simulator needs one for every job"
            )
        self.trace = trace
        self.settings = settings or SimSettings()
        self.limits = limits or ScalerLimits()
        self.clock = ManualClock()
        self.scaler = Scaler(policy, self, self, self, self.clock, self.limits)
        self.on_sample = on_sample
        self._rng = random.Random(self.settings.seed)
        self._costs = self.settings.costs
        self._overhead = self._costs.job_overhead_s
        self._release_s = self.settings.release_delay_s + self._costs.stop_s
        self._requested_at: float = -math.inf
        self._together: list[SimMachine] = []
        self._arrivals: list[float] = trace.arrival_s.tolist()
        self._services: list[float] = trace.service_s.tolist()
        n = len(self._arrivals)
        self.start_s = [math.nan] * n
        self.end_s = [math.nan] * n
        self.now = 0.0
        self.next_arrival = 0
        self.queue: deque[int] = deque()
        self.fleet: dict[str, SimMachine] = {}
        self.live: dict[str, SimMachine] = {}  # the fleet less its destroyed machines
        self.idle: dict[str, SimMachine] = {}
        self.counts = {state: 0 for state in S}
        self.busy = 0
        self.completed = 0
        self.service_total = 0.0
        self.response_total = 0.0
        self.scaling_actions = 0
        self.rounds: list[RoundReport] = []
        self._events: list[tuple] = []
        self._seq = 0
        self._machine_seq = 0
        self.series = SeriesRecorder(self.settings.sample_step_s)
        self.finished = n == 0
        self._give_up = (self._arrivals[-1] if n else 0.0) + self.settings.max_overrun_s
        if self.settings.warm_start:
            self._warm_start()

    # ---- ports -------------------------------------------------------------

    def stats(self) -> QueueStats:
        return QueueStats(
            ready=len(self.queue), in_flight=self.busy, published=self.next_arrival,
            completed=self.completed, service_s_total=self.service_total,
            response_s_total=self.response_total,
        )

    def machines(self) -> list[Machine]:
        ids = self.trace.ids
        return [m.snapshot(ids) for m in self.live.values()]

    def request_machine(self) -> str:
        self._machine_seq += 1
        machine = SimMachine(f"sim-{self._machine_seq:04d}", S.PREPARING, self.now, self.now)
        self.fleet[machine.id] = self.live[machine.id] = machine
        self.counts[S.PREPARING] += 1
        self._move(machine, S.BOOTING)
        boot = self.settings.boot_delay_s
        if self.settings.boot_jitter_s:
            boot += self._rng.uniform(0.0, self.settings.boot_jitter_s)
        machine.boot_at = self.now + boot
        self._schedule(machine.boot_at, BOOTED, machine)
        self._start_together(machine)
        return machine.id

    def _warm_start(self) -> None:
        """The scaler's ``min_workers`` running and idle at 0, asked for (and billed) from 0."""
        for _ in range(self.limits.min_workers):
            self._machine_seq += 1
            machine = SimMachine(f"sim-{self._machine_seq:04d}", S.PREPARING, 0.0, 0.0)
            self.fleet[machine.id] = self.live[machine.id] = machine
            self.counts[S.PREPARING] += 1
            self._move(machine, S.BOOTING)
            self._move(machine, S.RUNNING)
            machine.ready_at = 0.0
            self._take_next(machine)

    def _start_together(self, machine: SimMachine) -> None:
        """Machines asked for at the same instant (a round's) start together: each one's
        start costs as many as there are (live, they contend for the cores), so each new one
        makes the others of its round later (their boot event finds it not yet due)."""
        if self._requested_at != self.now:
            self._requested_at, self._together = self.now, []
        self._together.append(machine)
        if self._costs.none:
            return
        cost = self._costs.start(len(self._together))
        for m in self._together:
            m.boot_at = m.boot_at - m.start_cost + cost
            m.start_cost = cost

    def release_machine(self, machine_id: str) -> None:
        machine = self.fleet[machine_id]
        if machine.state in STARTING:
            self._tear_down(machine)
        elif machine.state is S.RUNNING:
            if machine.job == IDLE:
                del self.idle[machine.id]
                self._tear_down(machine)
            else:
                self._move(machine, S.DRAINING)

    # ---- lifecycle -----------------------------------------------------------

    def _schedule(self, at: float, kind: int, ref) -> None:
        self._seq += 1
        heapq.heappush(self._events, (at, self._seq, kind, ref))

    def _move(self, machine: SimMachine, state: S) -> None:
        self.counts[machine.state] -= 1
        machine.move(state, self.now)
        self.counts[state] += 1

    def _tear_down(self, machine: SimMachine) -> None:
        self._move(machine, S.DESTROYING)
        self._schedule(self.now + self._release_s, RELEASED, machine)

    def _booted(self, machine: SimMachine) -> None:
        if machine.state is not S.BOOTING:
            return
        if self.now < machine.boot_at:  # later machines of its round made its start longer
            self._schedule(machine.boot_at, BOOTED, machine)
            return
        self._move(machine, S.RUNNING)
        machine.ready_at = self.now
        self._take_next(machine)

    def _released(self, machine: SimMachine) -> None:
        self._move(machine, S.DESTROYED)
        del self.live[machine.id]
        machine.released_at = self.now

    def _take_next(self, machine: SimMachine) -> None:
        """Give an idle running machine the next queued job, or park it."""
        if self.queue:
            self._start(machine, self.queue.popleft())
        else:
            machine.job = IDLE
            self.idle[machine.id] = machine

    def _start(self, machine: SimMachine, job: int, delay: float = 0.0) -> None:
        """``machine`` takes ``job`` after ``delay`` (a live job's way to an idle worker);
        it is free again the job's overhead after the job's end."""
        machine.job = job
        self.busy += 1
        self.start_s[job] = self.now + delay
        self._seq += 1
        free_at = self.now + delay + self._services[job] + self._overhead
        heapq.heappush(self._events, (free_at, self._seq, COMPLETE, machine))

    def _complete(self, machine: SimMachine) -> None:
        job = machine.job
        self.busy -= 1
        self.completed += 1
        self.end_s[job] = self.now - self._overhead
        service = self._services[job]
        self.service_total += service
        self.response_total += self.end_s[job] - self._arrivals[job]
        machine.jobs_done += 1
        if machine.state is S.DRAINING:
            machine.job = IDLE
            self._tear_down(machine)
        else:
            self._take_next(machine)

    def _tick(self) -> None:
        self.clock.set(self.now)
        report = self.scaler.run_once()
        if report.acted:
            self.scaling_actions += 1
        self.rounds.append(report)
        self._schedule(self.now + self.limits.interval_s, TICK, None)

    def _sample(self) -> None:
        self.series.sample(self.now, len(self.queue), self.busy, self.next_arrival, self.completed,
                           self.counts)
        if self.on_sample is not None:
            self.on_sample(self)
        self._schedule(self.now + self.settings.sample_step_s, SAMPLE, None)

    # ---- the loop ------------------------------------------------------------

    def advance(self, until: float = math.inf) -> bool:
        """Process events up to virtual time ``until``; True once every job is done."""
        if not self._events and not self.finished:
            self._schedule(0.0, TICK, None)
            self._schedule(0.0, SAMPLE, None)
        while not self.finished:
            if self._jobs_until(until):
                return False
            if not self.finished:
                self._other_event()
        return True

    def _other_event(self) -> None:
        """The next event, due before the next arrival: a round, a sample, a machine's
        boot or release, or the end of a draining machine's job."""
        self.now, _, kind, ref = heapq.heappop(self._events)
        if kind < TICK:
            (self._complete, self._booted, self._released)[kind](ref)
        elif kind == TICK:
            self._tick()
        else:
            self._sample()
        if self.completed == len(self._arrivals) or self.now > self._give_up:
            self.finished = True

    def _jobs_until(self, until: float) -> bool:
        """Arrivals and ends of jobs, the bulk of any run, up to the next other event:
        True if it stopped because the next event is past ``until``.

        An arrival's steps and those of ``_start``, ``_complete`` and ``_take_next``, written
        out with the state in locals, because method calls and attribute look-ups were most
        of a million-job run. The counters are written back before anything else runs.
        """
        arrivals, services, events = self._arrivals, self._services, self._events
        start_s, end_s, queue, idle = self.start_s, self.end_s, self.queue, self.idle
        overhead, dispatch = self._overhead, self._costs.dispatch_s
        push, pop, draining = heapq.heappush, heapq.heappop, S.DRAINING
        n, give_up = len(arrivals), self._give_up
        i, now, seq, busy, completed = (self.next_arrival, self.now, self._seq, self.busy,
                                        self.completed)
        service_total, response_total = self.service_total, self.response_total
        past = False
        while True:
            next_arrival = arrivals[i] if i < n else math.inf
            if events and events[0][0] <= next_arrival:
                at, _, kind, machine = events[0]
                if at > until or kind != COMPLETE or machine.state is draining:
                    past = at > until
                    break
                pop(events)
                now, job = at, machine.job
                completed += 1
                end_s[job] = end = now - overhead
                service_total += services[job]
                response_total += end - arrivals[job]
                machine.jobs_done += 1
                if queue:
                    job = machine.job = queue.popleft()
                    start_s[job] = now
                    seq += 1
                    push(events, (now + services[job] + overhead, seq, COMPLETE, machine))
                else:
                    busy -= 1
                    machine.job = IDLE
                    idle[machine.id] = machine
            elif next_arrival > until:
                past = True
                break
            else:
                now, job = next_arrival, i
                i += 1
                if idle:
                    machine = idle.popitem()[1]
                    machine.job = job
                    busy += 1
                    start_s[job] = now + dispatch
                    seq += 1
                    push(events, (now + dispatch + services[job] + overhead, seq, COMPLETE,
                                  machine))
                else:
                    queue.append(job)
            if completed == n or now > give_up:
                self.finished = True
                break
        self.next_arrival, self.now, self._seq, self.busy = i, now, seq, busy
        self.completed, self.service_total, self.response_total = (completed, service_total,
                                                                   response_total)
        return past

    def run(self) -> RunRecord:
        """Run to the end, release every machine, and return the record."""
        self.advance()
        end = self.now
        self._sample()
        for machine in list(self.fleet.values()):
            self.release_machine(machine.id)
        while self._events:
            at, _, kind, ref = heapq.heappop(self._events)
            if kind == RELEASED:
                self.now = at
                self._released(ref)
        return self._record(end)

    def _record(self, end: float) -> RunRecord:
        n = len(self._arrivals)
        jobs = JobOutcomes(
            submit_s=np.asarray(self._arrivals, dtype=float),
            start_s=np.asarray(self.start_s, dtype=float),
            end_s=np.asarray(self.end_s, dtype=float),
            service_s=np.asarray(self._services, dtype=float),
            failed=np.zeros(n, dtype=bool),
        )
        return RunRecord(
            trace=self.trace.name,
            policy=getattr(self.scaler.policy, "name", type(self.scaler.policy).__name__),
            backend="sim",
            jobs=jobs,
            machines=[m.span() for m in self.fleet.values()],
            series=self.series.build(),
            scaling_actions=self.scaling_actions,
            duration_s=end,
        )
