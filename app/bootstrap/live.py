"""The composition root of the operator's tools on the live system: the live replay and
the console's live backend, built from the settings; each adapter a keyword argument
whose default is the real one (``connect_plane``, the deployer and the scaler as child
processes, the system clock). The processes themselves are built in
``imgproc.bootstrap.processes``. The console's entry point takes its signal handling
from here too (``stopped_by_signals``): the console may not import the live processes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.providers.registry import provider_entry
from imgproc.adapters.rabbit import (
    RabbitCommandBus,
    RabbitJobPublisher,
    RabbitJobSource,
    RabbitReadyCount,
    RabbitResultFeed,
)
from imgproc.adapters.system_clock import SystemClock
from imgproc.adapters.zk.browse import ZkTreeSource
from imgproc.adapters.zk.config import ZkConfigStore, ZkScalerStatus
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.bootstrap.console import load_trace
from imgproc.bootstrap.processes import (
    check_runs_workers,
    child_environment,
    opened,
    trace_clock,
    zk_client,
)
from imgproc.core.clock import Clock
from imgproc.core.errors import ConfigurationError
from imgproc.core.fleet import CommandedFleet
from imgproc.core.policies import build_policy, policy_arguments
from imgproc.core.ports import Component, ControlPlane
from imgproc.core.submit import submit_trace
from imgproc.core.trace import Trace
from imgproc.live.record import ClaimFiles, NoClaims
from imgproc.live.replay import Leftovers, LiveReplay, withdraw_jobs
from imgproc.live.scaler import new_machine_id
from imgproc.live.signals import stopped_by_signals
from imgproc.settings import Settings
from imgproc.tui.live_backend import LiveBackend

__all__ = ["build_live_console", "build_live_replay", "child_processes", "connect_plane",
           "live_leftovers", "on_trace_clock_from_now", "stopped_by_signals", "submit_file"]


def connect_plane(settings: Settings, role: str, durable_results: bool = False,
                  with_tree: bool = False) -> ControlPlane:
    """The live system as an operator's tool reaches it: ZooKeeper and RabbitMQ; with
    ``durable_results``, results are read from the kept results, so that none is missed
    across a reconnect (a replay)."""
    root, rabbit = settings.zk.root, settings.rabbit
    with opened() as closers:
        client = closers.enter_context(zk_client(settings))
        tree = ZkTreeSource(client, root) if with_tree else None
        if tree is not None:
            closers.callback(tree.close)
        results = RabbitResultFeed(rabbit, durable=durable_results)
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
    """The deployer and the scaler as child processes running these settings; each stops
    by itself once this process has ended (killed, it could not stop them)."""
    env = child_environment(settings)
    scaler_args = ["scaler", "--identifier", scaler_identifier] if scaler_identifier else ["scaler"]
    return [ManagedProcess("deployer", ["deployer", "--stop-with-parent"], env),
            ManagedProcess("scaler", [*scaler_args, "--stop-with-parent"], env)]


def live_leftovers(settings: Settings) -> Leftovers:
    """A replay's claim in the provider's state directory, and its jobs on RabbitMQ (the
    connection opened only when used)."""
    rabbit = settings.rabbit

    def withdraw(prefix: str) -> int:
        return withdraw_jobs(RabbitJobSource(rabbit, role=f"replay withdrawing {prefix}*"),
                             prefix)

    claims = ClaimFiles(settings.provider.state_dir / "replays",
                        scope=f"{settings.zk.hosts}{settings.zk.root}")
    return Leftovers(claims, withdraw)


def build_live_replay(settings: Settings, trace: Trace, *,
                      on_sample: Callable[[int, int, float], None] | None = None,
                      plane: ControlPlane | None = None,
                      components: Sequence[Component] | None = None,
                      clock: Clock | None = None, grace_s: float = 120.0,
                      leftovers: Leftovers | None = None,
                      stop: threading.Event | None = None) -> LiveReplay:
    """A live replay; given a ``plane`` (in-memory adapters) and no ``leftovers``, nothing
    outlives the run's process: it claims nothing, and withdraws no job. Every component
    runs on the trace's clock at ``settings.clock.speed``, from this moment."""
    run_id = uuid.uuid4().hex[:8]
    settings = on_trace_clock_from_now(settings)
    check_policy(settings)
    if components is None:
        check_runs_workers(settings)
        components = child_processes(settings, scaler_identifier=f"replay-{run_id}")
    if plane is None:
        plane = connect_plane(settings, f"replay {run_id}",
                              durable_results=True)
        leftovers = leftovers or live_leftovers(settings)
    clock = clock or trace_clock(settings)
    fleet = CommandedFleet(plane.registry, plane.commands, clock, new_machine_id)
    return LiveReplay(settings, trace, run_id, plane, fleet, components, clock,
                      leftovers or Leftovers(NoClaims(), lambda _prefix: 0),
                      on_sample, grace_s, stop)


def check_policy(settings: Settings) -> None:
    """The run's policy and parameters, checked before anything starts: a scaler refuses a
    bad one (and keeps its last), and the run would wait for it in vain."""
    build_policy(settings.policy, policy_arguments(
        settings.policy, dict(settings.policy_params), settings.slo_s,
        settings.provider.boot_delay_s))


def on_trace_clock_from_now(settings: Settings) -> Settings:
    """The settings with the trace clock starting now, unless its start is set already:
    every process of the run (this one, its children, their workers) reads the same trace
    time. Refused for VMs, whose boots and guest clocks run on wall time at any speed."""
    if settings.clock.speed == 1.0 or settings.clock.origin_s is not None:
        return settings
    if provider_entry(settings.provider.kind).wall_time_only:
        raise ConfigurationError(
            f"--speed {settings.clock.speed:g}: provider {settings.provider.kind!r} makes "
            f"machines that run on wall time (a VM boots as fast as it boots); replay at "
            f"speed 1, or use the local provider")
    clock = settings.clock.model_copy(update={"origin_s": SystemClock().now()})
    return settings.model_copy(update={"clock": clock})


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


