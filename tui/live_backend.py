"""The console's backend on the live cluster: RabbitMQ, ZooKeeper and the deployer
and scaler as child processes.

pika connections are not thread-safe and the console calls the backend from
worker threads, so every broker call goes through one lock.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import (
    RabbitCommandBus,
    RabbitJobPublisher,
    RabbitReadyCount,
    RabbitResultFeed,
)
from imgproc.adapters.system_clock import SystemClock
from imgproc.adapters.trace_files import read_trace
from imgproc.adapters.zk.browse import ZkTreeSource
from imgproc.adapters.zk.client import close, connect
from imgproc.adapters.zk.config import ZkConfigStore, ZkScalerStatus
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.core.fleet import CommandedFleet
from imgproc.core.machines import MachineState
from imgproc.core.messages import BadMessage, DeployerCommand, ScalerConfig, StateReport
from imgproc.core.results import ResultTally
from imgproc.core.scaler import release_order
from imgproc.core.submit import submit_trace
from imgproc.live.deployer import settings_environment
from imgproc.live.scaler import new_machine_id
from imgproc.settings import Settings
from imgproc.tui.model import ComponentStatus, ConsoleSnapshot, MachineRow, ReplayStatus

log = logging.getLogger(__name__)
S = MachineState
RATE_WINDOW_S = 10.0
LATENCY_WINDOW_S = 60.0


class _Replay:
    """A trace submitted from the console, in its own thread with its own connection."""

    def __init__(self, settings: Settings, path: Path, speed: float) -> None:
        self.trace = read_trace(path).trace
        self.speed = speed
        self.submitted = 0
        self.stop = threading.Event()
        self.resume = threading.Event()
        self.resume.set()
        self.state = "running"
        self._thread = threading.Thread(target=self._run, args=(settings,), daemon=True)
        self._thread.start()

    def _run(self, settings: Settings) -> None:
        publisher = RabbitJobPublisher(settings.rabbit, role="console replay")

        def count(_message) -> None:
            self.submitted += 1
            self.resume.wait()

        submit_trace(self.trace, publisher, SystemClock(self.stop), self.speed,
                     prefix=f"c{uuid.uuid4().hex[:6]}-", should_stop=self.stop.is_set,
                     on_submit=count)
        publisher.close()
        if self.state == "running":
            self.state = "done"

    def status(self) -> ReplayStatus:
        return ReplayStatus(self.trace.name, self.speed, self.state, self.submitted,
                            len(self.trace))


class LiveBackend:
    """Implements ``ConsoleBackend`` on the configured services."""

    kind = "live"

    def __init__(self, settings: Settings, start_components: bool = True) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._client = connect(settings.zk)
        self.registry = ZkMachineRegistry(self._client, settings.zk.root)
        self.config = ZkConfigStore(self._client, settings.zk.root)
        self.status = ZkScalerStatus(self._client, settings.zk.root)
        self._tree = ZkTreeSource(self._client, settings.zk.root)
        self._ready = RabbitReadyCount(settings.rabbit)
        self._feed = RabbitResultFeed(settings.rabbit)
        self._bus = RabbitCommandBus(settings.rabbit, role="console")
        self._fleet = CommandedFleet(self.registry, self._bus, SystemClock(), new_machine_id)
        self.tally = ResultTally()
        self._counts: collections.deque[tuple[float, int, int]] = collections.deque(maxlen=600)
        self._recent: collections.deque[tuple[float, float]] = collections.deque(maxlen=20_000)
        self._replay: _Replay | None = None
        self.reports: collections.deque[StateReport] = collections.deque(maxlen=200)
        self.started_at = time.time()
        env = settings_environment(settings)
        self.children = {name: ManagedProcess(name, [name], env) for name in ("deployer", "scaler")}
        if start_components:
            for child in self.children.values():
                child.start()

    def tick(self, wall_dt: float) -> None:
        """Live time passes by itself."""

    def _poll(self, now: float) -> tuple[int, int]:
        with self._lock:
            results = self._feed.poll_results(0.0)
            ready = self._ready.ready()
            self._take_reports()
        for result in results:
            if self.tally.add(result):
                self._recent.append((result.finished_at, result.response_s))
        machines = self.registry.machines()
        busy = sum(1 for m in machines if m.busy)
        self._counts.append((now, self.tally.completed + ready + busy, self.tally.completed))
        return ready, busy

    def _take_reports(self) -> None:
        """The console is the state reports' consumer: keep the latest, so none pile up."""
        delivery = self._bus.next_report(0.01)
        while delivery is not None:
            try:
                self.reports.append(StateReport.decode(delivery.body))
            except BadMessage as exc:  # shown nowhere, but never left to pile up in the queue
                log.warning("state report dropped: %s", exc)
            delivery.ack()
            delivery = self._bus.next_report(0.01)

    def _rates(self, now: float) -> tuple[float, float]:
        old = [c for c in self._counts if c[0] >= now - RATE_WINDOW_S]
        if len(old) < 2 or old[-1][0] <= old[0][0]:
            return 0.0, 0.0
        span = old[-1][0] - old[0][0]
        return max(0.0, (old[-1][1] - old[0][1]) / span), (old[-1][2] - old[0][2]) / span

    def _latency(self, now: float) -> tuple[float | None, float | None]:
        values = [r for t, r in self._recent if t >= now - LATENCY_WINDOW_S]
        if not values:
            return None, None
        p50, p95 = np.percentile(values, [50, 95])
        return float(p50), float(p95)

    def snapshot(self) -> ConsoleSnapshot:
        now = time.time()
        ready, busy = self._poll(now)
        machines = self.registry.machines()
        config, status = self.config.read(), self.status.read()
        arrival, completion = self._rates(now)
        p50, p95 = self._latency(now)
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
        self.config.write(ScalerConfig(policy=name, params=params or {}, requested_at=time.time()))

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
        self._replay = _Replay(self.settings, trace, speed)

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

    def tree(self) -> ZkTreeSource:
        return self._tree

    def component(self, name: str, action: str) -> str:
        child = self.children[name]
        getattr(child, action)()
        return child.state()

    def running_machines(self) -> int:
        return sum(1 for m in self.registry.machines() if m.state is not S.DESTROYED)

    def close(self, destroy_machines: bool) -> None:
        self.stop_replay()
        self.children["scaler"].stop()
        if destroy_machines:
            self._destroy_all()
        self.children["deployer"].stop()
        self._tree.close()
        with self._lock:
            self._feed.close()
            self._bus.close()
            self._ready.close()
        close(self._client)

    def _destroy_all(self, timeout_s: float | None = None) -> None:
        with self._lock:
            for machine in self.registry.machines():
                if machine.state not in (S.DESTROYING, S.DESTROYED):
                    self._bus.send(DeployerCommand(command="destroy", machine_id=machine.id,
                                                   sent_at=time.time()))
        deadline = time.time() + (timeout_s or self.settings.provider.drain_timeout_s + 30)
        while self.registry.machines() and time.time() < deadline:
            time.sleep(0.2)
