"""The composition root of the live system: every process and tool built from the settings.

Each ``build_*`` takes the settings and, as keyword arguments, the adapters it uses;
a missing one is the real adapter (RabbitMQ, ZooKeeper, the configured provider, the
system clock). Tests pass in-memory adapters and a manual clock instead
(``imgproc.bootstrap.memory``). This module is the only place that picks
implementations; the ``run_*`` functions are the CLI's entry points.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

from kazoo.client import KazooClient

from imgproc.adapters.images import ImageProcessor
from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.providers import build_provider, provider_names
from imgproc.adapters.providers.environment import environment_with
from imgproc.adapters.providers.registry import provider_entry
from imgproc.adapters.rabbit import (
    RabbitCommandBus,
    RabbitJobPublisher,
    RabbitJobSource,
    RabbitReadyCount,
    RabbitResultFeed,
    RabbitResultSink,
)
from imgproc.adapters.system_clock import ScaledSleep, SystemClock
from imgproc.adapters.zk.browse import ZkTreeSource
from imgproc.adapters.zk.client import close as close_zk
from imgproc.adapters.zk.client import connect
from imgproc.adapters.zk.config import ZkConfigStore, ZkScalerStatus
from imgproc.adapters.zk.election import ScalerElection
from imgproc.adapters.zk.liveness import ZkLiveness
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.bootstrap.console import load_trace
from imgproc.core.clock import Clock
from imgproc.core.errors import ConfigurationError
from imgproc.core.fleet import CommandedFleet
from imgproc.core.policies import build_policy
from imgproc.core.ports import (
    CommandBus,
    Component,
    ConfigStore,
    ControlPlane,
    Election,
    JobSource,
    Liveness,
    MachineRegistry,
    Provider,
    ReadyCount,
    ResultFeed,
    ResultSink,
    StatusStore,
)
from imgproc.core.results import LiveQueueProbe
from imgproc.core.scaler import Scaler
from imgproc.core.submit import submit_trace
from imgproc.core.trace import Trace
from imgproc.core.worker import SimulatedWork, Worker
from imgproc.live.deployer import MACHINE_THREADS, DeployerService
from imgproc.live.replay import LiveReplay
from imgproc.live.scaler import LiveScaler, new_machine_id
from imgproc.live.worker import ImageWork, LiveWorker, RegistryProgress, outward_address
from imgproc.settings import Settings
from imgproc.tui.live_backend import LiveBackend

log = logging.getLogger(__name__)


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with every setting as ``IMGPROC_*``: a child process
    (deployer, scaler, worker) runs with exactly these settings."""
    return environment_with(os.environ, settings.model_dump(mode="json"))


# ---- worker ------------------------------------------------------------------------------


def build_worker(settings: Settings, machine_id: str, stop: threading.Event, *,
                 registry: MachineRegistry | None = None, liveness: Liveness | None = None,
                 source: JobSource | None = None, sink: ResultSink | None = None,
                 clock: Clock | None = None, sleep: Callable[[float], None] | None = None,
                 address: str | None = None) -> LiveWorker:
    """One machine's worker; ``sleep`` is what simulated jobs spend their time in."""
    with opened() as closers:
        if registry is None or liveness is None:
            client = closers.enter_context(zk_client(settings))
            registry = registry or ZkMachineRegistry(client, settings.zk.root)
            liveness = liveness or ZkLiveness(client, settings.zk.root)
        if source is None:
            source = RabbitJobSource(settings.rabbit, role=f"worker {machine_id}")
            closers.callback(source.close)
        if sink is None:
            sink = RabbitResultSink(settings.rabbit)
            closers.callback(sink.close)
    clock = clock or SystemClock(stop)
    w = settings.worker
    work = ImageWork(ImageProcessor(w.input_root, w.output_root, w.max_pixels))
    worker = Worker(machine_id, source, sink, work, SimulatedWork(sleep or ScaledSleep()), clock,
                    RegistryProgress(registry, machine_id, clock))
    return LiveWorker(machine_id, worker, registry, liveness,
                      address or outward_address(settings.zk.hosts), clock, close=closers.close)


def run_worker(settings: Settings, machine_id: str, stop: threading.Event) -> int:
    boot_delay = settings.provider.boot_delay_s
    if boot_delay and stop.wait(boot_delay):
        return 0
    return build_worker(settings, machine_id, stop).run(stop)


# ---- deployer ----------------------------------------------------------------------------


def build_deployer(settings: Settings, stop: threading.Event | None = None, *,
                   registry: MachineRegistry | None = None, bus: CommandBus | None = None,
                   provider: Provider | None = None, clock: Clock | None = None,
                   executor: Executor | None = None) -> DeployerService:
    with opened() as closers:
        if registry is None:
            client = closers.enter_context(zk_client(settings))
            registry = ZkMachineRegistry(client, settings.zk.root)
        if bus is None:
            bus = RabbitCommandBus(settings.rabbit, role="deployer",
                                   command_prefetch=MACHINE_THREADS)
            closers.callback(bus.close)
        provider = provider or build_provider(settings.provider,
                                              settings.model_dump(mode="json"))
    executor = executor or ThreadPoolExecutor(max_workers=MACHINE_THREADS,
                                              thread_name_prefix="machine")
    return DeployerService(registry, provider, bus, clock or SystemClock(stop), executor,
                           settings.provider.boot_timeout_s, close=closers.close)


def check_runs_workers(settings: Settings) -> None:
    """A live deployer's provider must run workers on its machines by itself."""
    if not provider_entry(settings.provider.kind).runs_workers:
        raise ConfigurationError(
            f"provider {settings.provider.kind!r} runs no worker on its machines: it is for "
            f"tests (imgproc.bootstrap.memory); choose one of "
            f"{', '.join(provider_names(runs_workers=True))}")


def run_deployer(settings: Settings, stop: threading.Event) -> int:
    check_runs_workers(settings)
    log.info("deployer: broker %s, zookeeper %s, provider %s", settings.rabbit.safe_url,
             settings.zk.hosts, settings.provider.kind)
    return build_deployer(settings, stop).run(stop)


# ---- scaler ------------------------------------------------------------------------------


def build_scaler(settings: Settings, identifier: str, stop: threading.Event | None = None, *,
                 client: KazooClient | None = None, registry: MachineRegistry | None = None,
                 config: ConfigStore | None = None, status: StatusStore | None = None,
                 bus: CommandBus | None = None, ready: ReadyCount | None = None,
                 results: ResultFeed | None = None, clock: Clock | None = None) -> LiveScaler:
    """The leader's loop; ZooKeeper's ports on ``client`` (or a client of its own)."""
    root, rabbit = settings.zk.root, settings.rabbit
    with opened() as closers:
        if None in (registry, config, status):
            client = client or closers.enter_context(zk_client(settings))
        if bus is None:
            bus = RabbitCommandBus(rabbit, role=f"scaler {identifier}")
            closers.callback(bus.close)
        if ready is None:
            ready = RabbitReadyCount(rabbit)
            closers.callback(ready.close)
        if results is None:
            results = RabbitResultFeed(rabbit)
            closers.callback(results.close)
    registry = registry or ZkMachineRegistry(client, root)
    clock = clock or SystemClock(stop)
    probe = LiveQueueProbe(ready, registry, results)
    fleet = CommandedFleet(registry, bus, clock, new_machine_id)
    scaler = Scaler(build_policy("constantsize"), probe, registry, fleet, clock, settings.scaler)
    return LiveScaler(settings, identifier, scaler, config or ZkConfigStore(client, root),
                      status or ZkScalerStatus(client, root), clock, close=closers.close)


def run_scaler(settings: Settings, stop: threading.Event, identifier: str | None = None,
               election: Election | None = None) -> int:
    """Contend in the election; while leading, decide every interval."""
    identifier = identifier or f"scaler-{uuid.uuid4().hex[:6]}"
    client = connect(settings.zk)
    root = settings.zk.root
    chosen = election or ScalerElection(client, root, identifier)

    def cancel_when_stopped() -> None:
        stop.wait()
        chosen.cancel()

    def lead() -> None:
        scaler = build_scaler(settings, identifier, stop, client=client)
        try:
            scaler.lead(chosen, stop)
        finally:
            scaler.close()

    threading.Thread(target=cancel_when_stopped, daemon=True).start()
    try:
        log.info("scaler %s waiting to lead (%s)", identifier, settings.zk.hosts)
        chosen.run(lead)
    finally:
        close_zk(client)
    return 0


# ---- operator tools: live replay and console -----------------------------------------------


def connect_plane(settings: Settings, role: str, results_queue: str | None = None,
                  with_tree: bool = False) -> ControlPlane:
    """The live system as an operator's tool reaches it: ZooKeeper and RabbitMQ."""
    root, rabbit = settings.zk.root, settings.rabbit
    with opened() as closers:
        client = closers.enter_context(zk_client(settings))
        tree = ZkTreeSource(client, root) if with_tree else None
        if tree is not None:
            closers.callback(tree.close)
        results = RabbitResultFeed(rabbit, queue_name=results_queue, durable=bool(results_queue))
        closers.callback(results.close)
        commands = RabbitCommandBus(rabbit, role=role)
        closers.callback(commands.close)
        ready = RabbitReadyCount(rabbit)
        closers.callback(ready.close)
    return ControlPlane(
        registry=ZkMachineRegistry(client, root), config=ZkConfigStore(client, root),
        status=ZkScalerStatus(client, root), commands=commands, ready=ready, results=results,
        tree=tree, publisher=lambda who: RabbitJobPublisher(rabbit, role=who),
        close=closers.close, where=settings.zk.hosts)


def child_processes(settings: Settings, scaler_identifier: str | None = None) -> list[Component]:
    """The deployer and the scaler as child processes running these settings."""
    env = child_environment(settings)
    scaler_args = ["scaler", "--identifier", scaler_identifier] if scaler_identifier else ["scaler"]
    return [ManagedProcess("deployer", ["deployer"], env),
            ManagedProcess("scaler", scaler_args, env)]


def build_live_replay(settings: Settings, trace: Trace, speed: float = 1.0, *,
                      on_sample: Callable[[int, int, float], None] | None = None,
                      plane: ControlPlane | None = None,
                      components: Sequence[Component] | None = None,
                      clock: Clock | None = None, grace_s: float = 120.0) -> LiveReplay:
    run_id = uuid.uuid4().hex[:8]
    if components is None:
        check_runs_workers(settings)
        components = child_processes(settings, scaler_identifier=f"replay-{run_id}")
    if plane is None:
        plane = connect_plane(settings, f"replay {run_id}",
                              results_queue=f"{settings.rabbit.results_exchange}.replay-{run_id}")
    clock = clock or SystemClock()
    fleet = CommandedFleet(plane.registry, plane.commands, clock, new_machine_id)
    return LiveReplay(settings, trace, run_id, plane, fleet, components, clock, speed,
                      on_sample, grace_s)


def build_live_console(settings: Settings, start_components: bool = True, *,
                       plane: ControlPlane | None = None,
                       components: Sequence[Component] | None = None,
                       clock: Clock | None = None,
                       traces: Callable[[Path], Trace] = load_trace) -> LiveBackend:
    """The console's backend on the live system; read-only, it starts no child process."""
    plane = plane or connect_plane(settings, "console", with_tree=True)
    clock = clock or SystemClock()
    fleet = CommandedFleet(plane.registry, plane.commands, clock, new_machine_id)
    backend = LiveBackend(settings, plane, fleet,
                          components if components is not None else child_processes(settings),
                          clock, traces)
    if start_components:
        backend.start_components()
    return backend


def submit_file(settings: Settings, path: Path, speed: float = 1.0,
                prefix: str = "") -> tuple[Trace, int]:
    """``imgproc submit``: a trace file's jobs onto the jobs queue, on time."""
    trace = load_trace(path)
    publisher = RabbitJobPublisher(settings.rabbit, role="submit")
    try:
        return trace, submit_trace(trace, publisher, SystemClock(), speed, prefix)
    finally:
        publisher.close()


@contextmanager
def opened() -> Iterator[ExitStack]:
    """What a builder opens, closed in reverse order by the returned stack's ``close``
    (each closer runs whatever the others raise); if the building fails, closed at once."""
    closers = ExitStack()
    try:
        yield closers
    except BaseException:
        closers.close()
        raise


@contextmanager
def zk_client(settings: Settings) -> Iterator[KazooClient]:
    """A connected ZooKeeper client, its session ended on exit."""
    client = connect(settings.zk)
    try:
        yield client
    finally:
        close_zk(client)
