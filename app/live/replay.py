"""Live replay: the whole system on one machine, as an operator would run it.

Starts the deployer and the scaler (child processes live, in-process stand-ins on
in-memory adapters), submits the trace on the trace's clock (``settings.clock``: at speed
10 every component runs ten times faster, so every time is in trace seconds), samples
the system every trace second (less often at high speeds) until every job has a result,
then stops the scaler, destroys every machine (each drains first), stops the deployer
and removes what the run created: machine records, its jobs still queued, leftover state
reports (its results it reads from the kept results, which it leaves as they are). The
record it returns has the same shape as a simulated one.

The ``stop`` event (set by SIGTERM, SIGINT or SIGHUP) ends the submitting and the
waiting early; the teardown and the cleaning are the same, then ``run`` raises
:class:`LiveReplayInterrupted`. A replay claims the fleet while it runs (its process,
recorded through ``Leftovers.claims``); a replay that finds the claim of one whose
process is gone (killed with SIGKILL) removes what that run left before it starts.
Everything it touches comes through its constructor
(``imgproc.bootstrap.build_live_replay`` wires it), time included.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from imgproc.core.clock import Clock
from imgproc.core.errors import ImgprocError
from imgproc.core.fleet import CommandedFleet
from imgproc.core.machines import STARTING, MachineState
from imgproc.core.messages import BadMessage, JobMessage, ScalerConfig, StateReport
from imgproc.core.metrics.record import RunRecord
from imgproc.core.ports import Component, ControlPlane, JobSource
from imgproc.core.results import ResultTally
from imgproc.core.sim.series import SeriesRecorder
from imgproc.core.submit import TraceSubmission
from imgproc.core.trace import Trace
from imgproc.live.record import RunClaim, job_outcomes, machine_spans, scaling_actions
from imgproc.settings import Settings

log = logging.getLogger(__name__)
S = MachineState
DESTROY_MARGIN_S = 120.0  # wall, beyond the drain timeout: a destroy, an interrupted boot
POLL_S = 0.2  # wall seconds between two looks at the results
SAMPLE_WALL_S = 0.25  # at most four samples of the fleet per wall second
SCALER_READY_WALL_S = 60.0  # a scaler that has not taken the run's policy by then failed
SCALER_POLL_WALL_S = 0.02


class LiveReplayError(ImgprocError):
    """The live replay could not start or finish."""


class LiveReplayInterrupted(LiveReplayError):
    """The replay was stopped before its end; it cleaned up as at the end all the same."""

    def __init__(self, completed: int, jobs: int, withdrawn: int) -> None:
        self.completed = completed
        self.jobs = jobs
        self.withdrawn = withdrawn
        super().__init__(
            f"replay stopped after {completed} of {jobs} results; cleaned up as at its end: "
            f"scaler stopped, every machine destroyed, {withdrawn} queued jobs of the run "
            f"withdrawn, its records removed")


class RunClaims(Protocol):
    """Who runs a replay on the fleet (``imgproc.live.record.ClaimFiles`` live)."""

    def claim(self, run_id: str, started_at: float) -> None:
        """Record this process as the one running ``run_id``."""

    def others(self, run_id: str) -> list[RunClaim]:
        """Every other replay's claim on the fleet, each saying whether its process runs."""

    def release(self, run_id: str) -> None: ...


@dataclass(frozen=True)
class Leftovers:
    """What a replay leaves outside its control plane, and how each goes: its claim on the
    fleet, its jobs still queued (``withdraw_jobs(prefix)`` returns how many it took off
    the queue). Its results need no cleaning: a replay reads them from the kept results."""

    claims: RunClaims
    withdraw_jobs: Callable[[str], int]


def job_prefix(run_id: str) -> str:
    """What the ids of a run's jobs start with."""
    return f"r{run_id}-"


def withdraw_jobs(source: JobSource, prefix: str, wait_s: float = 0.2) -> int:
    """Take the jobs whose id starts with ``prefix`` off the queue ``source`` reads, up to
    the first of someone else's (left there: the source holds one job at a time and gives
    it back when it closes), then close ``source``; returns how many it took."""
    taken = 0
    try:
        while (delivery := source.next_delivery(wait_s)) is not None:
            try:
                job_id = JobMessage.decode(delivery.body).job_id
            except BadMessage:
                job_id = ""
            if not job_id.startswith(prefix):
                log.warning("a job not of this run (%r) waits on the jobs queue: the run's "
                            "jobs behind it stay there", job_id)
                break
            delivery.ack()
            taken += 1
    finally:
        source.close()
    return taken


class LiveReplay:
    """One live run of one trace; ``run()`` returns its record."""

    def __init__(self, settings: Settings, trace: Trace, run_id: str, plane: ControlPlane,
                 fleet: CommandedFleet, components: Sequence[Component], clock: Clock,
                 leftovers: Leftovers,
                 on_sample: Callable[[int, int, float], None] | None = None,
                 grace_s: float = 120.0, stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.trace = trace
        self.run_id = run_id
        self.plane = plane
        self.fleet = fleet
        self.components = {c.name: c for c in components}
        self.clock = clock
        self.leftovers = leftovers
        self.speed = settings.clock.speed
        self.on_sample = on_sample
        self.grace_s = settings.clock.of_wall(grace_s)  # waiting for results: machinery
        self.stop = stop or threading.Event()
        self.prefix = job_prefix(run_id)
        self.tally = ResultTally()
        self.reports: list[StateReport] = []
        self.series = SeriesRecorder(max(1.0, SAMPLE_WALL_S * self.speed))
        self.submission: TraceSubmission | None = None
        self._machines_starting = False
        self._t0 = 0.0
        self.withdrawn = 0

    def run(self) -> RunRecord:
        """Play the trace and return its record; raises :class:`LiveReplayInterrupted`
        when ``stop`` cut it short (after the same cleaning up)."""
        plane, s = self.plane, self.settings
        try:
            dead = self._check_fleet()
            self.leftovers.claims.claim(self.run_id, self.clock.now())
        except BaseException:
            plane.close()  # nothing of this run exists yet: nothing else to clean
            raise
        try:
            self._remove_dead_runs(dead)
            asked_at = self.clock.now()
            plane.config.write(ScalerConfig(policy=s.policy, params=s.policy_params,
                                            requested_at=asked_at))
            for component in self.components.values():
                component.start()
            try:
                t0 = self._wait_for_scaler(asked_at)
            except LiveReplayError:
                self._teardown()  # the scaler may have asked for its minimum meanwhile
                raise
            teardown_at = self._play(t0)
            interrupted = self.stop.is_set()
            self._teardown()
            record = None if interrupted else self._record(t0, teardown_at)
        finally:
            self._stop_components()
            self._clean()
        if record is None:
            raise LiveReplayInterrupted(self.tally.completed, len(self.trace), self.withdrawn)
        return record

    def _wait_for_scaler(self, asked_at: float) -> float:
        """When the scaler began to lead with the run's policy, its first round right after
        (the simulator's round at 0), the trace's start: a scaler still starting (a second
        or two of Python, tens of trace seconds at high speeds) is not the experiment's."""
        deadline = self.clock.now() + SCALER_READY_WALL_S * self.speed
        while not self.stop.is_set() and self.clock.now() < deadline:
            status = self.plane.status.read()
            if (status is not None and status.applied_at >= asked_at
                    and status.policy == self.settings.policy):
                return min(status.applied_at, self.clock.now())
            self.clock.sleep(SCALER_POLL_WALL_S * self.speed)
        if self.stop.is_set():
            return self.clock.now()
        raise LiveReplayError(f"the scaler did not apply policy {self.settings.policy!r} "
                              f"within {SCALER_READY_WALL_S:.0f} s: see its log")

    def _check_fleet(self) -> list[RunClaim]:
        """Refuse to run beside a running fleet; return the claims of dead replays, whose
        machines are the only ones recorded (all asked for after the first of them began)."""
        claims = self.leftovers.claims.others(self.run_id)
        running = [c for c in claims if c.alive]
        where = f"{self.settings.zk.root} on {self.plane.where}"
        if running:
            c = running[0]
            raise LiveReplayError(f"replay {c.run_id} (pid {c.pid} on {c.host}) is running on "
                                  f"{where}: wait for it to end, or stop it")
        dead = [c for c in claims if not c.alive]
        since = min((c.started_at for c in dead), default=float("inf"))
        if any(m.requested_at < since - 1 for m in self.plane.registry.machines()):
            raise LiveReplayError(
                f"machines already recorded under {where}: another fleet is running there; "
                f"stop it, or clear it with `imgproc zk clear`")
        return dead

    def _remove_dead_runs(self, dead: list[RunClaim]) -> None:
        """Remove what replays killed before they could clean left: their machines (through
        the deployer, each drained), records, queued jobs, state reports and claims."""
        if not dead:
            return
        if "deployer" in self.components:
            self.components["deployer"].start()
        machines = self.fleet.release_all()
        if machines:
            left = self._wait_until_gone()
            if left:
                raise LiveReplayError(f"machines of a dead replay still up: {', '.join(left)}")
        self._delete_records()
        for claim in dead:
            withdrawn = self._withdraw(claim.run_id)
            self.leftovers.claims.release(claim.run_id)
            log.warning("replay %s (pid %d on %s) ended without cleaning up: removed its %d "
                        "machines, %d queued jobs and its records", claim.run_id,
                        claim.pid, claim.host, len(machines), withdrawn)
        self._drain_reports(wait_s=0.2)
        self.reports.clear()

    def _stop_components(self) -> None:
        for component in self.components.values():
            try:
                component.stop()
            except Exception:  # logged: the others must still stop, and the run be cleaned
                log.exception("stopping the %s", component.name)

    @property
    def submitted(self) -> int:
        return self.submission.submitted if self.submission else 0

    def _play(self, t0: float) -> float:
        """Submit on time and sample every step until every job has a result, or until
        ``grace_s`` (wall seconds) passes after the trace's end with no new result and no
        machine starting. Returns when it stopped, in seconds since ``t0``."""
        publisher = self.plane.publisher(f"replay {self.run_id}")
        self._t0 = t0
        self.submission = TraceSubmission(self.trace, publisher, t0, prefix=self.prefix)
        trace_end = t0 + self.trace.duration_s
        deadline = trace_end + self.grace_s
        # Machines on their way keep the run waiting, but not forever (a deployer that died
        # leaves machines preparing): at most one boot timeout past the trace's end.
        starting_cap = trace_end + self.settings.provider.boot_timeout_s + self.grace_s
        expected = {self.prefix + job_id for job_id in self.trace.ids}
        try:
            while not self.stop.is_set() and (now := self.clock.now()) < deadline:
                self.submission.publish_due(now)
                results = [r for r in self.plane.results.poll_results(0)
                           if r.job_id in expected]
                for result in results:
                    self.tally.add(result)
                self._drain_reports()
                self._sample(now - t0)
                if self.tally.completed >= len(expected):
                    break
                if results or (now < starting_cap and self._machines_starting):
                    deadline = max(deadline, now + self.grace_s)
                self.clock.sleep(self._pause(now))
        finally:
            publisher.close()
        return self.clock.now() - t0

    def _pause(self, now: float) -> float:
        """Until the next poll, or the next job's arrival or sample if sooner."""
        wake = [POLL_S * self.speed]
        if self.submission and (due := self.submission.next_due_at) is not None:
            wake.append(due - now)
        if sampled := self.series.rows["t"]:
            wake.append(self._t0 + sampled[-1] + self.series.step_s - now)
        return max(0.0, min(wake))

    def _sample(self, now: float) -> None:
        recorder = self.series
        if recorder.rows["t"] and now - recorder.rows["t"][-1] < recorder.step_s:
            return
        machines = self.plane.registry.machines()
        # Whether a machine is on its way (a VM may take minutes; the deployer fails one
        # that is not running after the boot timeout, so this ends); read at each sample.
        self._machines_starting = any(m.state in STARTING for m in machines)
        counts = {state: 0 for state in S}
        for m in machines:
            counts[m.state] += 1
        busy = sum(1 for m in machines if m.busy)
        recorder.sample(now, self.plane.ready.ready(), busy, self.submitted,
                        self.tally.completed, counts)
        if self.on_sample is not None:
            self.on_sample(self.tally.completed, len(self.trace), now)

    def _drain_reports(self, wait_s: float = 0.0) -> None:
        """Take every state report waiting, each wait up to ``wait_s`` for the next (the
        replay is their consumer)."""
        delivery = self.plane.commands.next_report(wait_s)
        while delivery is not None:
            try:
                self.reports.append(StateReport.decode(delivery.body))
            except BadMessage as exc:
                log.warning("state report dropped: %s", exc)
            delivery.ack()
            delivery = self.plane.commands.next_report(wait_s)

    def _teardown(self) -> None:
        """Stop the scaler, then destroy every machine and wait until all are gone."""
        if "scaler" in self.components:
            self.components["scaler"].stop()
        self.fleet.release_all()
        left = self._wait_until_gone()
        if left:
            log.error("machines still up after teardown: %s", left)
        if "deployer" in self.components:
            self.components["deployer"].stop()
        self._drain_reports(wait_s=0.05)

    def _wait_until_gone(self) -> list[str]:
        """Wait until the registry holds no machine, the deployer kept up meanwhile; returns
        the ids of those still there after the drain timeout and a margin."""
        return self.fleet.wait_until_gone(
            self.settings.provider.drain_timeout_s
            + self.settings.clock.of_wall(DESTROY_MARGIN_S), POLL_S * self.speed,
            meanwhile=self._while_machines_go)

    def _while_machines_go(self) -> None:
        """Start the deployer again if it ended (a signal sent to the whole process group
        ends it too, and only it destroys machines); take the state reports."""
        deployer = self.components.get("deployer")
        if deployer is not None and deployer.state() != "running":
            log.warning("the deployer is not running (%s): starting it to destroy the "
                        "machines", deployer.state())
            deployer.start()
        self._drain_reports()

    def _record(self, t0: float, teardown_at: float) -> RunRecord:
        machines = [m for m in self.plane.registry.all_machines() if m.requested_at >= t0 - 1]
        jobs = job_outcomes(self.trace, self.tally, self.prefix, t0)
        finished = [r.finished_at - t0 for r in self.tally.results.values()]
        return RunRecord(
            trace=self.trace.name, policy=self.settings.policy, backend="live", jobs=jobs,
            machines=machine_spans(machines, t0), series=self.series.build(),
            scaling_actions=scaling_actions(machines, self.reports, t0 + teardown_at,
                                            self.settings.scaler.interval_s),
            duration_s=max(finished, default=0.0),
            params={"speed": self.speed, "run_id": self.run_id},
        )

    def _clean(self) -> None:
        """Leave nothing of this run behind: machine records, its queued jobs, reports; then
        its claim, unless a machine is left (the next replay then finds
        the claim, and removes what is left)."""
        plane = self.plane
        try:
            self._delete_records()
            self.withdrawn = self._withdraw(self.run_id)
            self._drain_reports(wait_s=0.5)
            if not plane.registry.machines():
                self.leftovers.claims.release(self.run_id)
        except ImgprocError as exc:
            log.warning("cleaning up the replay's records and queues: %s", exc)
        finally:
            plane.close()

    def _delete_records(self) -> None:
        registry = self.plane.registry
        for machine in registry.all_machines():
            if machine.state in (S.DESTROYED, S.FAILED):
                registry.delete(machine.id)

    def _withdraw(self, run_id: str) -> int:
        """Take a run's jobs still waiting off the jobs queue; returns how many."""
        if not self.plane.ready.ready():
            return 0
        return self.leftovers.withdraw_jobs(job_prefix(run_id))

