"""The composition root of the live system's processes: worker, deployer and scaler, each
built from the settings.

Each ``build_*`` takes the settings and, as keyword arguments, the adapters it uses; a
missing one is the real adapter (RabbitMQ, ZooKeeper, the configured provider, the system
clock). Tests pass in-memory adapters and a manual clock instead
(``imgproc.bootstrap.memory``). The ``run_*`` functions are the CLI's entry points. Only
what these processes need is imported here: a worker starts on every scale-up.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

from kazoo.client import KazooClient

from imgproc.adapters.images import ImageProcessor
from imgproc.adapters.job_threads import JobThread
from imgproc.adapters.providers import build_provider, provider_names
from imgproc.adapters.providers.environment import environment_with
from imgproc.adapters.providers.registry import provider_entry
from imgproc.adapters.rabbit import (
    RabbitCommandBus,
    RabbitJobSource,
    RabbitReadyCount,
    RabbitResultFeed,
    RabbitResultSink,
)
from imgproc.adapters.storage.router import s3_storage
from imgproc.adapters.system_clock import ScaledSleep, SystemClock
from imgproc.adapters.zk.client import RegistryUnavailable, WriteConflict, connect
from imgproc.adapters.zk.client import close as close_zk
from imgproc.adapters.zk.config import ZkConfigStore, ZkScalerStatus
from imgproc.adapters.zk.election import ScalerElection, contend_until
from imgproc.adapters.zk.liveness import ZkLiveness
from imgproc.adapters.zk.registry import OwnerLock, ZkMachineRegistry
from imgproc.core.clock import Clock, on_trace_time
from imgproc.core.errors import ConfigurationError
from imgproc.core.fleet import CommandedFleet
from imgproc.core.policies import build_policy
from imgproc.core.ports import (
    CommandBus,
    ConfigStore,
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
from imgproc.core.worker import SimulatedWork, Worker
from imgproc.live.deployer import CHECK_EVERY_S, MACHINE_THREADS, RETRY_DELAYS_S, DeployerService
from imgproc.live.scaler import LiveScaler, new_machine_id
from imgproc.live.worker import (
    PROGRESS_REFRESH_S,
    ImageWork,
    LiveWorker,
    ProgressRecords,
    RegistryProgress,
    UpdatesInBackground,
    outward_address,
)
from imgproc.settings import Settings

log = logging.getLogger(__name__)


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with every setting as ``IMGPROC_*``: a child process
    (deployer, scaler, worker) runs with exactly these settings."""
    values = settings.model_dump(mode="json")
    if settings.storage.secret_access_key is not None:  # dumped masked
        values["storage"]["secret_access_key"] = (
            settings.storage.secret_access_key.get_secret_value())
    if settings.rabbit.url_file is not None:  # the child reads the file, as this process did
        del values["rabbit"]["url"]
    return environment_with(os.environ, values)


def trace_clock(settings: Settings, stop: threading.Event | None = None) -> Clock:
    """The wall clock (its sleep cut short by ``stop``), run at the settings' speed."""
    return on_trace_time(SystemClock(stop), settings.clock)


def long_running(settings: Settings) -> Settings:
    """The settings of a worker, deployer or scaler process: it waits out a broker or
    ZooKeeper outage of any length (nothing would restart it), where a command-line tool
    gives up and says so."""
    return settings.model_copy(update={"rabbit": settings.rabbit.enduring(),
                                       "zk": settings.zk.enduring()})


# ---- worker ------------------------------------------------------------------------------


def build_worker(settings: Settings, machine_id: str, stop: threading.Event, *,
                 registry: MachineRegistry | None = None, liveness: Liveness | None = None,
                 source: JobSource | None = None, sink: ResultSink | None = None,
                 clock: Clock | None = None, sleep: Callable[[float], None] | None = None,
                 address: str | None = None) -> LiveWorker:
    """One machine's worker; ``sleep`` is what simulated jobs spend their time in. Its
    progress goes to ZooKeeper from a thread of its own (``UpdatesInBackground``)."""
    on_zookeeper = registry is None
    with opened() as closers:
        if registry is None or liveness is None:
            client = closers.enter_context(zk_client(settings))
            registry = registry or ZkMachineRegistry(client, settings.zk.root)
            liveness = liveness or ZkLiveness(client, settings.zk.root)
        if source is None:
            source = RabbitJobSource(settings.rabbit, role=f"worker {machine_id}", stop=stop)
            closers.callback(source.close)
        if sink is None:
            sink = RabbitResultSink(settings.rabbit, stop=stop)
            closers.callback(sink.close)
        w = settings.worker
        storage = s3_storage(w.input_root, w.output_root, settings.storage)
        closers.callback(storage.close)
    clock = clock or trace_clock(settings, stop)
    work = ImageWork(ImageProcessor(storage, w.max_pixels, settings.storage.max_object_bytes))
    simulated = SimulatedWork(sleep or ScaledSleep(settings.clock.speed), w.max_job_s)
    records: ProgressRecords = registry
    if on_zookeeper:
        background = UpdatesInBackground(registry, f"progress-{machine_id}")
        closers.callback(background.close)
        records = background
    progress = RegistryProgress(records, machine_id, clock,
                                refresh_s=settings.clock.of_wall(PROGRESS_REFRESH_S))
    worker = Worker(machine_id, source, sink, work, simulated, clock, progress,
                    runner=JobThread(f"job-{machine_id}"), max_job_s=w.max_job_s)
    return LiveWorker(machine_id, worker, registry, liveness,
                      address or outward_address(settings.zk.hosts), clock, close=closers.close)


def run_worker(settings: Settings, machine_id: str, stop: threading.Event) -> int:
    settings = long_running(settings)
    boot_delay = settings.provider.boot_delay_s
    if boot_delay:
        trace_clock(settings, stop).sleep(boot_delay)  # cut short by ``stop``
        if stop.is_set():
            return 0
    return build_worker(settings, machine_id, stop).run(stop)


# ---- deployer ----------------------------------------------------------------------------


def build_deployer(settings: Settings, stop: threading.Event | None = None, *,
                   registry: MachineRegistry | None = None, bus: CommandBus | None = None,
                   provider: Provider | None = None, clock: Clock | None = None,
                   executor: Executor | None = None, owner: str | None = None) -> DeployerService:
    """The deployer; its machines are ``owner``'s (by default :func:`deployer_owner`)."""
    p = settings.provider
    owner = owner or deployer_owner(settings)
    with opened() as closers:
        if registry is None:
            client = closers.enter_context(zk_client(settings))
            registry = ZkMachineRegistry(client, settings.zk.root)
        if bus is None:
            bus = RabbitCommandBus(settings.rabbit, role="deployer",
                                   command_prefetch=MACHINE_THREADS, stop=stop)
            closers.callback(bus.close)
        provider = provider or build_provider(settings.provider,
                                              settings.model_dump(mode="json"))
    executor = executor or ThreadPoolExecutor(max_workers=MACHINE_THREADS,
                                              thread_name_prefix="machine")
    of_wall = settings.clock.of_wall
    return DeployerService(registry, provider, bus, clock or trace_clock(settings, stop), executor,
                           p.boot_timeout_s, close=closers.close, owner=owner,
                           retryable=(RegistryUnavailable, WriteConflict),
                           retry_delays_s=[of_wall(d) for d in RETRY_DELAYS_S],
                           check_every_s=of_wall(CHECK_EVERY_S))


def check_runs_workers(settings: Settings) -> None:
    """A live deployer's provider must run workers on its machines by itself."""
    if not provider_entry(settings.provider.kind).runs_workers:
        raise ConfigurationError(
            f"provider {settings.provider.kind!r} runs no worker on its machines: it is for "
            f"tests (imgproc.bootstrap.memory); choose one of "
            f"{', '.join(provider_names(runs_workers=True))}")


def deployer_owner(settings: Settings) -> str:
    """Whose machines a deployer judges: its provider's view (kind, host, state directory),
    the same for a deployer restarted on the same state (``imgproc.core.deployer``)."""
    p = settings.provider
    return f"{p.kind}@{os.uname().nodename}:{p.state_dir.resolve()}"


def run_deployer(settings: Settings, stop: threading.Event) -> int:
    """Wait to be the one active deployer of this owner, then run until ``stop``; a
    deployer whose ZooKeeper session expired (the lock with it) stops acting and waits
    for the lock again, in the same process."""
    settings = long_running(settings)
    check_runs_workers(settings)
    owner = deployer_owner(settings)
    log.info("deployer: broker %s, zookeeper %s, provider %s, owner %s",
             settings.rabbit.safe_url, settings.zk.hosts, settings.provider.kind, owner)
    with zk_client(settings) as client:
        lock = OwnerLock(client, settings.zk.root, owner, f"{owner} pid {os.getpid()}")
        registry = ZkMachineRegistry(client, settings.zk.root)
        if others := lock.contenders():
            log.warning("waiting: another deployer of this state is active (%s)",
                        "; ".join(others))
        while (tenure := lock.hold(stop)) is not None:
            try:
                build_deployer(settings, tenure.ended, registry=registry,
                               owner=owner).run(tenure.ended)
            finally:
                tenure.release()
            if not stop.is_set():
                log.warning("ZooKeeper session expired, the deployer lock with it: "
                            "waiting for the lock again")
    return 0


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
            bus = RabbitCommandBus(rabbit, role=f"scaler {identifier}", stop=stop)
            closers.callback(bus.close)
        if ready is None:
            ready = RabbitReadyCount(rabbit, stop=stop)
            closers.callback(ready.close)
        if results is None:
            results = RabbitResultFeed(rabbit, stop=stop)
            closers.callback(results.close)
    registry = registry or ZkMachineRegistry(client, root)
    if config is None:
        config = zk_config = ZkConfigStore(client, root)
        closers.callback(zk_config.close)  # its watch ends with this term of leadership
    clock = clock or trace_clock(settings, stop)
    probe = LiveQueueProbe(ready, registry, results)
    fleet = CommandedFleet(registry, bus, clock, new_machine_id)
    scaler = Scaler(build_policy("constantsize"), probe, registry, fleet, clock, settings.scaler)
    return LiveScaler(settings, identifier, scaler, config,
                      status or ZkScalerStatus(client, root), clock, close=closers.close)


def run_scaler(settings: Settings, stop: threading.Event, identifier: str | None = None,
               election: Election | None = None) -> int:
    """Contend in the election; while leading, decide every interval. Leadership lost to
    ZooKeeper (suspended, or the session expired) is contended for again, and ZooKeeper
    out of reach is waited out, until ``stop``."""
    settings = long_running(settings)
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
        contend_until(chosen, lead, stop)
    finally:
        close_zk(client)
    return 0


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
