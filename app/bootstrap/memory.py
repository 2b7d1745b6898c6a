"""The live system on in-memory adapters, played on one thread by a stepped clock.

The same deployer, scaler and worker code as live, wired by ``imgproc.bootstrap.processes``
to an in-memory broker, registry and provider. The deployer and the scaler are
in-process components; each machine the in-memory provider starts gets an in-process
worker (after the provider's boot delay). Every sleep on the clock lets each of them take
one step, so a :class:`~imgproc.live.replay.LiveReplay` runs whole, in virtual time,
with the same timings every time (ids are random): a test of the live system's wiring
and decisions with no service.

A worker's simulated job is done within one step: the worker's own clock runs ahead by
the job's service time (so its result says when it would have finished), and the worker
takes no other job until the shared clock has caught up with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from imgproc.adapters.memory.broker import MemoryBroker
from imgproc.adapters.memory.registry import (
    MemoryConfigStore,
    MemoryLiveness,
    MemoryMachineRegistry,
    MemoryScalerStatus,
    MemorySession,
    MemoryWorkerBoard,
)
from imgproc.adapters.providers.memory import MemoryProvider
from imgproc.bootstrap.processes import build_deployer, build_scaler, build_worker
from imgproc.core.clock import SteppedClock
from imgproc.core.executors import InlineExecutor
from imgproc.core.ports import ControlPlane
from imgproc.live.worker import LiveWorker
from imgproc.settings import Settings


class InProcess:
    """A :class:`~imgproc.core.ports.Component` whose work is a step the clock runs."""

    def __init__(self, name: str, step: Callable[[], None],
                 begin: Callable[[], None] = lambda: None,
                 end: Callable[[], None] = lambda: None) -> None:
        self.name = name
        self.lines: list[str] = []
        self._step, self._begin, self._end = step, begin, end
        self._running = False
        self._started = False

    def start(self) -> None:
        if not self._running:
            self._begin()
            self._running = self._started = True

    def stop(self, timeout_s: float = 30.0) -> int | None:
        if self._running:
            self._running = False
            self._end()
        return 0

    def restart(self) -> None:
        self.stop()
        self.start()

    def state(self) -> str:
        if self._running:
            return "running"
        return "exited with code 0" if self._started else "not started"

    def step(self) -> None:
        if self._running:
            self._step()


class _WorkerClock:
    """A worker's view of the shared clock: it runs ahead while the worker does a job."""

    def __init__(self, shared: SteppedClock) -> None:
        self.shared = shared
        self.busy_until = shared.now()

    def now(self) -> float:
        return max(self.shared.now(), self.busy_until)

    def sleep(self, seconds: float) -> None:
        self.busy_until = self.now() + max(0.0, seconds)

    @property
    def free(self) -> bool:
        return self.shared.now() >= self.busy_until


class _Machine:
    """An in-process worker on a machine of the in-memory provider."""

    def __init__(self, live: LiveWorker, clock: _WorkerClock, session: MemorySession) -> None:
        self.live = live
        self.clock = clock
        self.session = session

    def step(self) -> None:
        if self.clock.free:
            self.live.worker.step(0)


class MemorySystem:
    """Broker, registry, provider, components and workers, all in memory, on ``clock``."""

    def __init__(self, settings: Settings, clock: SteppedClock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SteppedClock()
        self.broker = MemoryBroker(settings.rabbit)
        self.registry = MemoryMachineRegistry(settings.zk.root)
        self.config = MemoryConfigStore(settings.zk.root)
        self.status = MemoryScalerStatus(settings.zk.root)
        self.board = MemoryWorkerBoard()
        self.provider = MemoryProvider()
        self.machines: dict[str, _Machine] = {}
        self._seen: dict[str, float] = {}
        self.deployer = self._deployer()
        self.scaler = self._scaler()
        for step in (self.deployer.step, self.scaler.step, self._workers_step):
            self.clock.add_step(step)

    def plane(self, durable_results: bool = False) -> ControlPlane:
        """The control plane an operator's tool (a replay, the console) uses."""
        broker = self.broker
        return ControlPlane(
            registry=self.registry, config=self.config, status=self.status,
            commands=broker.command_bus(), ready=broker.ready_count(),
            results=broker.result_feed(durable=durable_results),
            tree=None,
            publisher=lambda _who: broker.job_publisher(), close=lambda: None,
            where="memory")

    def components(self) -> list[InProcess]:
        return [self.deployer, self.scaler]

    def _deployer(self) -> InProcess:
        service = build_deployer(self.settings, registry=self.registry,
                                 bus=self.broker.command_bus(), provider=self.provider,
                                 clock=self.clock, executor=InlineExecutor())
        return InProcess("deployer", lambda: service.step(0), begin=service.begin,
                         end=service.shutdown)

    def _scaler(self) -> InProcess:
        b = self.broker
        scaler = build_scaler(self.settings, "memory-scaler", registry=self.registry,
                              config=self.config, status=self.status, bus=b.command_bus(),
                              ready=b.ready_count(), results=b.result_feed(), clock=self.clock)
        return InProcess("scaler", scaler.step)

    def _workers_step(self) -> None:
        """Machines the provider started get a worker once booted; stopped ones lose it."""
        now, alive = self.clock.now(), self.provider.alive()
        for machine_id in alive - self.machines.keys():
            since = self._seen.setdefault(machine_id, now)
            if now - since >= self.settings.provider.boot_delay_s:
                self.machines[machine_id] = self._boot(machine_id)
        for machine_id in self.machines.keys() - alive:
            self.machines.pop(machine_id).session.close()  # its ephemeral node goes
            self._seen.pop(machine_id, None)
        for machine in list(self.machines.values()):
            machine.step()

    def _boot(self, machine_id: str) -> _Machine:
        clock, session = _WorkerClock(self.clock), MemorySession()
        live = build_worker(self.settings, machine_id, threading.Event(), registry=self.registry,
                            liveness=MemoryLiveness(self.board, session),
                            source=self.broker.job_source(), sink=self.broker.result_sink(),
                            clock=clock, sleep=clock.sleep, address=f"memory://{machine_id}")
        live.come_up()
        return _Machine(live, clock, session)
