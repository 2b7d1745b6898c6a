"""Live replay: the whole system on one machine, as an operator would run it.

Starts the deployer and the scaler (child processes live, in-process stand-ins on
in-memory adapters), submits the trace at ``speed``, samples the system every second
until every job has a result, then stops the scaler, destroys every machine (each
drains first), stops the deployer and removes what the run created: machine records,
the run's result queue, leftover state reports. The record it returns has the same
shape as a simulated one. Everything it touches comes through its constructor
(``imgproc.bootstrap.build_live_replay`` wires it), time included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from imgproc.core.clock import Clock
from imgproc.core.errors import ImgprocError
from imgproc.core.fleet import CommandedFleet
from imgproc.core.machines import STARTING, MachineState
from imgproc.core.messages import BadMessage, ScalerConfig, StateReport
from imgproc.core.metrics.record import RunRecord
from imgproc.core.ports import Component, ControlPlane
from imgproc.core.results import ResultTally
from imgproc.core.sim.series import SeriesRecorder
from imgproc.core.submit import TraceSubmission
from imgproc.core.trace import Trace
from imgproc.live.record import job_outcomes, machine_spans, scaling_actions
from imgproc.settings import Settings

log = logging.getLogger(__name__)
S = MachineState
DESTROY_MARGIN_S = 120.0  # beyond the drain timeout: a VM's destroy, or an interrupted boot
POLL_S = 0.2


class LiveReplayError(ImgprocError):
    """The live replay could not start or finish."""


class LiveReplay:
    """One live run of one trace; ``run()`` returns its record."""

    def __init__(self, settings: Settings, trace: Trace, run_id: str, plane: ControlPlane,
                 fleet: CommandedFleet, components: Sequence[Component], clock: Clock,
                 speed: float = 1.0,
                 on_sample: Callable[[int, int, float], None] | None = None,
                 grace_s: float = 120.0) -> None:
        self.settings = settings
        self.trace = trace
        self.run_id = run_id
        self.plane = plane
        self.fleet = fleet
        self.components = {c.name: c for c in components}
        self.clock = clock
        self.speed = speed
        self.on_sample = on_sample
        self.grace_s = grace_s
        self.prefix = f"r{run_id}-"
        self.tally = ResultTally()
        self.reports: list[StateReport] = []
        self.series = SeriesRecorder(1.0)
        self.submission: TraceSubmission | None = None
        self._machines_starting = False

    def run(self) -> RunRecord:
        plane, s = self.plane, self.settings
        try:
            if plane.registry.machines():
                raise LiveReplayError(
                    f"machines already recorded under {s.zk.root} on {plane.where}: another "
                    f"fleet is running there; stop it, or clear it with `imgproc zk clear`")
        except BaseException:
            plane.close()  # nothing of this run exists yet: nothing else to clean
            raise
        try:
            plane.config.write(ScalerConfig(policy=s.policy, params=s.policy_params,
                                            requested_at=self.clock.now()))
            for component in self.components.values():
                component.start()
            t0 = self.clock.now()
            teardown_at = self._play(t0)
            self._teardown()
            return self._record(t0, teardown_at)
        finally:
            self._stop_components()
            self._clean()

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
        """Submit on time and sample every second until every job has a result, or until
        ``grace_s`` passes after the trace's end with no new result and no machine
        starting. Returns when it stopped, in seconds since ``t0``."""
        publisher = self.plane.publisher(f"replay {self.run_id}")
        self.submission = TraceSubmission(self.trace, publisher, t0, self.speed, self.prefix)
        trace_end = t0 + self.trace.duration_s / self.speed
        deadline = trace_end + self.grace_s
        # Machines on their way keep the run waiting, but not forever (a deployer that died
        # leaves machines preparing): at most one boot timeout past the trace's end.
        starting_cap = trace_end + self.settings.provider.boot_timeout_s + self.grace_s
        expected = {self.prefix + job_id for job_id in self.trace.ids}
        try:
            while (now := self.clock.now()) < deadline:
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
        """Until the next poll, or the next job's arrival if sooner."""
        due = self.submission.next_due_at if self.submission else None
        return POLL_S if due is None else max(0.0, min(POLL_S, due - now))

    def _sample(self, now: float) -> None:
        recorder = self.series
        if recorder.rows["t"] and now - recorder.rows["t"][-1] < 1.0:
            return
        machines = self.plane.registry.machines()
        # Whether a machine is on its way (a VM may take minutes; the deployer fails one
        # that is not running after the boot timeout, so this ends); read once a second.
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
        left = self.fleet.wait_until_gone(
            self.settings.provider.drain_timeout_s + DESTROY_MARGIN_S, POLL_S,
            meanwhile=self._drain_reports)
        if left:
            log.error("machines still up after teardown: %s", left)
        if "deployer" in self.components:
            self.components["deployer"].stop()
        self._drain_reports(wait_s=0.05)

    def _record(self, t0: float, teardown_at: float) -> RunRecord:
        machines = [m for m in self.plane.registry.all_machines() if m.requested_at >= t0 - 1]
        jobs = job_outcomes(self.trace, self.tally, self.prefix, t0, self.speed)
        finished = [r.finished_at - t0 for r in self.tally.results.values()]
        return RunRecord(
            trace=self.trace.name, policy=self.settings.policy, backend="live", jobs=jobs,
            machines=machine_spans(machines, t0), series=self.series.build(),
            scaling_actions=scaling_actions(machines, self.reports, t0 + teardown_at),
            duration_s=max(finished, default=0.0),
            params={"speed": self.speed, "run_id": self.run_id},
        )

    def _clean(self) -> None:
        """Leave nothing of this run behind: machine records, its result queue, reports."""
        plane = self.plane
        try:
            for machine in plane.registry.all_machines():
                if machine.state in (S.DESTROYED, S.FAILED):
                    plane.registry.delete(machine.id)
            self._drain_reports(wait_s=0.5)
            plane.results.delete()
        except ImgprocError as exc:
            log.warning("cleaning up the replay's records and queues: %s", exc)
        finally:
            plane.close()

