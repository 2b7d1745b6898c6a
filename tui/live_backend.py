"""The console's backend on the live cluster: RabbitMQ, ZooKeeper and the deployer
and scaler as child processes, all handed in by ``imgproc.bootstrap.build_live_console``.

pika connections are not thread-safe and the console calls the backend from
worker threads, so every broker call goes through one lock.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from imgproc.core.clock import Clock, Interruptible
from imgproc.core.fleet import CommandedFleet
from imgproc.core.machines import MachineState
from imgproc.core.messages import BadMessage, ScalerConfig, StateReport
from imgproc.core.metrics.windows import RateWindow, ResponseWindow
from imgproc.core.ports import Component, ControlPlane, JobPublisher, TreeSource
from imgproc.core.results import ResultTally
from imgproc.core.scaler import release_order
from imgproc.core.submit import submit_trace
from imgproc.core.trace import Trace
from imgproc.settings import Settings
from imgproc.tui.model import ComponentStatus, ConsoleSnapshot, MachineRow, ReplayStatus

log = logging.getLogger(__name__)
S = MachineState


class _Replay:
    """A trace submitted from the console, in its own thread with its own publisher."""

    def __init__(self, trace: Trace, publisher: JobPublisher, clock: Clock,
                 speed: float) -> None:
        self.trace = trace
        self.speed = speed
        self.submitted = 0
        self.stop = threading.Event()
        self.resume = threading.Event()
        self.resume.set()
        self.state = "running"
        self._thread = threading.Thread(target=self._run, args=(publisher, clock), daemon=True)
        self._thread.start()

    def _run(self, publisher: JobPublisher, clock: Clock) -> None:
        def count(_message) -> None:
            self.submitted += 1
            self.resume.wait()

        submit_trace(self.trace, publisher, Interruptible(clock, self.stop), self.speed,
                     prefix=f"c{uuid.uuid4().hex[:6]}-", should_stop=self.stop.is_set,
                     on_submit=count)
        publisher.close()
        if self.state == "running":
            self.state = "done"

    def status(self) -> ReplayStatus:
        return ReplayStatus(self.trace.name, self.speed, self.state, self.submitted,
                            len(self.trace))


class LiveBackend:
    """Implements ``ConsoleBackend`` on the live system's control plane."""

    kind = "live"

    def __init__(self, settings: Settings, plane: ControlPlane, fleet: CommandedFleet,
                 components: Sequence[Component], clock: Clock,
                 load_trace: Callable[[Path], Trace]) -> None:
        self.settings = settings
        self.plane = plane
        self.registry = plane.registry
        self.config = plane.config
        self.status = plane.status
        self._fleet = fleet
        self.clock = clock
        self.load_trace = load_trace
        self._lock = threading.Lock()
        self.tally = ResultTally()
        self._rates = RateWindow()
        self._responses = ResponseWindow()
        self._replay: _Replay | None = None
        self.reports: collections.deque[StateReport] = collections.deque(maxlen=200)
        self.started_at = clock.now()
        self.children = {c.name: c for c in components}

    def start_components(self) -> None:
        for child in self.children.values():
            child.start()

    def tick(self, wall_dt: float) -> None:
        """Live time passes by itself."""

    def _poll(self, now: float) -> tuple[int, int]:
        with self._lock:
            results = self.plane.results.poll_results(0.0)
            ready = self.plane.ready.ready()
            self._take_reports()
        for result in results:
            if self.tally.add(result):
                self._responses.add(result.finished_at, result.response_s)
        machines = self.registry.machines()
        busy = sum(1 for m in machines if m.busy)
        self._rates.add(now, self.tally.completed + ready + busy, self.tally.completed)
        return ready, busy

    def _take_reports(self) -> None:
        """The console is the state reports' consumer: keep the latest, so none pile up."""
        commands = self.plane.commands
        delivery = commands.next_report(0.01)
        while delivery is not None:
            try:
                self.reports.append(StateReport.decode(delivery.body))
            except BadMessage as exc:  # shown nowhere, but never left to pile up in the queue
                log.warning("state report dropped: %s", exc)
            delivery.ack()
            delivery = commands.next_report(0.01)

    def snapshot(self) -> ConsoleSnapshot:
        now = self.clock.now()
        ready, busy = self._poll(now)
        machines = self.registry.machines()
        config, status = self.config.read(), self.status.read()
        arrival, completion = self._rates.rates(now)
        p50, p95 = self._responses.percentiles(now)
        counts = collections.Counter(m.state.value for m in machines)
        return ConsoleSnapshot(
            now=now - self.started_at, backend="live",
            policy=config.policy if config else self.settings.policy,
            policy_params=dict(config.params) if config else {},
            policy_applied_at=(status.applied_at - self.started_at) if status else None,
            slo_s=self.settings.slo_s, ready=ready, in_flight=busy,
            arrival_rate=arrival, completion_rate=completion,
            response_p50_s=p50, response_p95_s=p95,
            submitted=self._replay.submitted if self._replay else 0,
            completed=self.tally.completed - self.tally.failed, failed=self.tally.failed,
            machines=tuple(MachineRow(m.id, m.state.value, m.address, now - m.requested_at,
                                      m.jobs_done, m.current_job) for m in machines),
            broker=self.settings.rabbit.safe_url, zookeeper=self.settings.zk.hosts,
            replay=self._replay.status() if self._replay else None,
            components=tuple(ComponentStatus(c.name, c.state(), tuple(c.lines)[-200:])
                             for c in self.children.values()),
            machine_counts=dict(counts),
        )

    def set_policy(self, name: str, params: dict | None = None) -> None:
        self.config.write(ScalerConfig(policy=name, params=params or {},
                                       requested_at=self.clock.now()))

    def adjust_workers(self, delta: int) -> str:
        with self._lock:
            if delta > 0:
                ids = [self._fleet.request_machine() for _ in range(delta)]
                return f"asked for {', '.join(ids)}"
            victims = release_order(self.registry.machines())[: -delta]
            for machine in victims:
                self._fleet.release_machine(machine.id)
        return (f"releasing {', '.join(m.id for m in victims)}" if victims
                else "no machine to release")

    def start_replay(self, trace: Path, speed: float) -> None:
        self.stop_replay()
        loaded = self.load_trace(trace)
        self._replay = _Replay(loaded, self.plane.publisher("console replay"), self.clock, speed)

    def pause_replay(self) -> None:
        replay = self._replay
        if replay is None or replay.state not in ("running", "paused"):
            return
        if replay.resume.is_set():
            replay.resume.clear()
            replay.state = "paused"
        else:
            replay.resume.set()
            replay.state = "running"

    def stop_replay(self) -> None:
        if self._replay is not None and self._replay.state in ("running", "paused"):
            self._replay.state = "stopped"
            self._replay.stop.set()
            self._replay.resume.set()

    def set_speed(self, speed: float) -> None:
        """Live time runs at one second per second; a replay's speed is set when it starts."""

    def tree(self) -> TreeSource:
        if self.plane.tree is None:
            raise RuntimeError("this console was built without a ZooKeeper tree")
        return self.plane.tree

    def component(self, name: str, action: str) -> str:
        child = self.children[name]
        getattr(child, action)()
        return child.state()

    def running_machines(self) -> int:
        return sum(1 for m in self.registry.machines() if m.state is not S.DESTROYED)

    def close(self, destroy_machines: bool) -> None:
        self.stop_replay()
        if "scaler" in self.children:
            self.children["scaler"].stop()
        if destroy_machines:
            with self._lock:
                self._fleet.release_all()
            self._fleet.wait_until_gone(self.settings.provider.drain_timeout_s + 30)
        if "deployer" in self.children:
            self.children["deployer"].stop()
        with self._lock:
            self.plane.close()
