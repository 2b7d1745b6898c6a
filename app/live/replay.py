"""Live replay: the whole system on one machine, as an operator would run it.

Starts the deployer and the scaler as child processes, submits the trace at
``speed``, samples the system every second until every job has a result,
then stops the scaler, destroys every machine (each drains first), stops the
deployer and removes what the run created: machine znodes, the run's result
queue, leftover state reports. The record it returns has the same shape as a
simulated one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import (
    RabbitCommandBus,
    RabbitJobPublisher,
    RabbitReadyCount,
    RabbitResultFeed,
)
from imgproc.adapters.system_clock import SystemClock
from imgproc.adapters.zk.client import connect
from imgproc.adapters.zk.config import ZkConfigStore
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.core.errors import ImgprocError
from imgproc.core.machines import MachineState
from imgproc.core.messages import DeployerCommand, ScalerConfig, StateReport
from imgproc.core.metrics.record import RunRecord
from imgproc.core.results import ResultTally
from imgproc.core.sim.series import SeriesRecorder
from imgproc.core.submit import submit_trace
from imgproc.core.trace import Trace
from imgproc.live.deployer import settings_environment
from imgproc.live.record import job_outcomes, machine_spans, scaling_actions
from imgproc.settings import Settings

log = logging.getLogger(__name__)
S = MachineState
DESTROY_MARGIN_S = 120.0  # beyond the drain timeout: a VM's destroy, or an interrupted boot


class LiveReplayError(ImgprocError):
    """The live replay could not start or finish."""


class LiveReplay:
    """One live run of one trace; ``run()`` returns its record."""

    def __init__(self, settings: Settings, trace: Trace, speed: float = 1.0,
                 on_sample: Callable[[int, int, float], None] | None = None,
                 grace_s: float = 120.0) -> None:
        self.settings = settings
        self.trace = trace
        self.speed = speed
        self.on_sample = on_sample
        self.grace_s = grace_s
        self.run_id = uuid.uuid4().hex[:8]
        self.prefix = f"r{self.run_id}-"
        self.tally = ResultTally()
        self.submitted = 0
        self.reports: list[StateReport] = []
        self.stop = threading.Event()

    def _children(self) -> list[ManagedProcess]:
        env = settings_environment(self.settings)
        return [ManagedProcess("deployer", ["deployer"], env),
                ManagedProcess("scaler", ["scaler", "--identifier", f"replay-{self.run_id}"], env)]

    def run(self) -> RunRecord:
        s = self.settings
        client = connect(s.zk)
        registry = ZkMachineRegistry(client, s.zk.root)
        if registry.machines():
            client.stop()
            raise LiveReplayError(
                f"machines already recorded under {s.zk.root} on {s.zk.hosts}: another fleet is "
                f"running there; stop it, or clear it with `imgproc zk clear`")
        ZkConfigStore(client, s.zk.root).write(
            ScalerConfig(policy=s.policy, params=s.policy_params, requested_at=time.time()))
        queue_name = f"{s.rabbit.results_exchange}.replay-{self.run_id}"
        feed = RabbitResultFeed(s.rabbit, queue_name=queue_name, durable=True)
        bus = RabbitCommandBus(s.rabbit, role=f"replay {self.run_id}")
        children = self._children()
        try:
            for child in children:
                child.start()
            t0 = time.time()
            teardown_at = self._play(registry, feed, bus, t0)
            self._teardown(registry, bus, children)
            return self._record(registry, t0, teardown_at)
        finally:
            for child in children:
                child.stop()
            self._clean(registry, feed, bus)
            client.stop()
            client.close()

    def _play(self, registry, feed, bus, t0: float) -> float:
        """Submit in a thread; sample every second until every job has a result, or
        until ``grace_s`` passes after the trace's end with no new result and no machine
        starting."""
        publisher = RabbitJobPublisher(self.settings.rabbit, role=f"replay {self.run_id}")
        submitter = threading.Thread(target=self._submit, args=(publisher,), daemon=True)
        submitter.start()
        ready = RabbitReadyCount(self.settings.rabbit)
        self.series = SeriesRecorder(1.0)
        trace_end = t0 + self.trace.duration_s / self.speed
        deadline = trace_end + self.grace_s
        # Machines on their way keep the run waiting, but not forever (a deployer that died
        # leaves machines preparing): at most one boot timeout past the trace's end.
        starting_cap = trace_end + self.settings.provider.boot_timeout_s + self.grace_s
        expected = {self.prefix + job_id for job_id in self.trace.ids}
        while time.time() < deadline:
            results = [r for r in feed.poll_results(0.2) if r.job_id in expected]
            for result in results:
                self.tally.add(result)
            self._drain_reports(bus)
            self._sample(registry, ready, time.time() - t0)
            if self.tally.completed >= len(expected):
                break
            now = time.time()
            if results or (now < starting_cap and self._machines_starting(registry)):
                deadline = max(deadline, now + self.grace_s)
        self.stop.set()
        submitter.join(timeout=10)
        publisher.close()
        return time.time() - t0

    @staticmethod
    def _machines_starting(registry) -> bool:
        """Whether a machine is on its way (a VM may take minutes; the deployer fails
        one that is not running after the boot timeout, so this ends)."""
        return any(m.state in (S.PREPARING, S.BOOTING) for m in registry.machines())

    def _submit(self, publisher) -> None:
        def counted(_message) -> None:
            self.submitted += 1

        submit_trace(self.trace, publisher, SystemClock(self.stop), self.speed, self.prefix,
                     should_stop=self.stop.is_set, on_submit=counted)

    def _sample(self, registry, ready, now: float) -> None:
        recorder = self.series
        if recorder.rows["t"] and now - recorder.rows["t"][-1] < 1.0:
            return
        machines = registry.machines()
        counts = {state: 0 for state in S}
        for m in machines:
            counts[m.state] += 1
        busy = sum(1 for m in machines if m.busy)
        recorder.sample(now, ready.ready(), busy, self.submitted, self.tally.completed, counts)
        if self.on_sample is not None:
            self.on_sample(self.tally.completed, len(self.trace), now)

    def _drain_reports(self, bus, wait_s: float = 0.05) -> None:
        """Take every state report waiting (the replay is their consumer)."""
        delivery = bus.next_report(wait_s)
        while delivery is not None:
            self.reports.append(StateReport.decode(delivery.body))
            delivery.ack()
            delivery = bus.next_report(wait_s)

    def _teardown(self, registry, bus, children: list[ManagedProcess]) -> None:
        """Stop the scaler, then destroy every machine and wait until all are gone."""
        children[1].stop()
        for machine in registry.machines():
            if machine.state not in (S.DESTROYING, S.DESTROYED):
                bus.send(DeployerCommand(command="destroy", machine_id=machine.id,
                                         sent_at=time.time()))
        deadline = time.time() + self.settings.provider.drain_timeout_s + DESTROY_MARGIN_S
        while registry.machines() and time.time() < deadline:
            self._drain_reports(bus)
            time.sleep(0.2)
        if registry.machines():
            log.error("machines still up after teardown: %s", [m.id for m in registry.machines()])
        children[0].stop()
        self._drain_reports(bus)

    def _record(self, registry, t0: float, teardown_at: float) -> RunRecord:
        machines = [m for m in registry.all_machines() if m.requested_at >= t0 - 1]
        jobs = job_outcomes(self.trace, self.tally, self.prefix, t0, self.speed)
        finished = [r.finished_at - t0 for r in self.tally.results.values()]
        return RunRecord(
            trace=self.trace.name, policy=self.settings.policy, backend="live", jobs=jobs,
            machines=machine_spans(machines, t0), series=self.series.build(),
            scaling_actions=scaling_actions(machines, self.reports, t0 + teardown_at),
            duration_s=max(finished, default=0.0),
            params={"speed": self.speed, "run_id": self.run_id},
        )

    def _clean(self, registry, feed, bus) -> None:
        """Leave nothing of this run behind: machine records, its result queue, reports."""
        for machine in registry.all_machines():
            if machine.state in (S.DESTROYED, S.FAILED):
                registry.delete(machine.id)
        try:
            self._drain_reports(bus, wait_s=0.5)
            feed.delete()
        except ImgprocError as exc:
            log.warning("cleaning up the replay's queues: %s", exc)
        bus.close()


def describe(settings: Settings) -> str:
    return json.dumps({"broker": settings.rabbit.safe_url, "zookeeper": settings.zk.hosts})
