"""The live system built by the composition root on in-memory adapters and a stepped
(manual) clock: the same deployer, scaler, workers and live replay as on the real
services, played on one thread in virtual time."""

from __future__ import annotations

import threading

import pytest

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
from imgproc.bootstrap.live import build_live_replay
from imgproc.bootstrap.memory import MemorySystem
from imgproc.bootstrap.processes import build_deployer, build_scaler, build_worker
from imgproc.core.clock import ManualClock, SteppedClock
from imgproc.core.errors import ConfigurationError
from imgproc.core.executors import InlineExecutor
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import DeployerCommand, JobMessage, StateReport
from imgproc.core.trace import Job, Trace
from imgproc.live.replay import LiveReplayError
from imgproc.settings import Settings

S = MachineState


def settings(**changes) -> Settings:
    values = {"policy": "constantsize", "policy_params": {"size": 2},
              "scaler": {"interval_s": 1.0}, "provider": {"kind": "memory", "boot_delay_s": 2.0}}
    values.update(changes)
    return Settings(**values)


def trace(jobs: int = 20, every_s: float = 0.5, service_s: float = 0.4) -> Trace:
    return Trace.from_jobs("t", [Job(f"j{i}", i * every_s, service_s) for i in range(jobs)])


def test_a_worker_built_on_memory_adapters_serves_a_job_and_records_it():
    s, broker, registry = settings(), MemoryBroker(), MemoryMachineRegistry()
    clock = ManualClock(100.0)
    feed = broker.result_feed()
    live = build_worker(s, "w1", threading.Event(), registry=registry,
                        liveness=MemoryLiveness(MemoryWorkerBoard(), MemorySession()),
                        source=broker.job_source(), sink=broker.result_sink(), clock=clock,
                        sleep=clock.advance, address="memory://w1")
    live.come_up()
    broker.job_publisher().publish(JobMessage(job_id="a", submitted_at=100.0, service_s=3.0))
    assert live.worker.step(0)
    (result,) = feed.poll_results(0)
    took = result.finished_at - result.started_at
    assert (result.job_id, result.worker, took) == ("a", "w1", 3.0)
    record = registry.get("w1")
    assert record.state is S.RUNNING and record.address == "memory://w1"


def test_the_deployer_built_on_memory_adapters_provisions_and_destroys():
    s, broker, registry = settings(), MemoryBroker(), MemoryMachineRegistry()
    provider, clock = MemoryProvider(), ManualClock(10.0)
    bus = broker.command_bus()
    service = build_deployer(s, registry=registry, bus=bus, provider=provider, clock=clock,
                             executor=InlineExecutor())
    service.begin()
    registry.create(Machine("m1", S.PREPARING, 10.0, 10.0))
    bus.send(DeployerCommand(command="provision", machine_id="m1", sent_at=10.0))
    service.step(0)
    assert provider.alive() == {"m1"} and registry.get("m1").state is S.BOOTING
    bus.send(DeployerCommand(command="destroy", machine_id="m1", sent_at=11.0))
    service.step(0)
    assert provider.alive() == set() and registry.get("m1").state is S.DESTROYED
    reports = []
    while (delivery := bus.next_report(0)) is not None:
        reports.append(delivery.body)
        delivery.ack()
    assert len(reports) == 3  # booting, destroying, destroyed


def test_the_scaler_built_on_memory_adapters_asks_for_its_policys_fleet():
    s, broker, registry = settings(), MemoryBroker(), MemoryMachineRegistry()
    clock = ManualClock(0.0)
    bus = broker.command_bus()
    scaler = build_scaler(s, "s1", registry=registry, config=MemoryConfigStore(),
                          status=MemoryScalerStatus(), bus=bus, ready=broker.ready_count(),
                          results=broker.result_feed(), clock=clock)
    scaler.step()
    commands = []
    while (delivery := bus.next_command(0)) is not None:
        commands.append(DeployerCommand.decode(delivery.body).command)
        delivery.ack()
    assert commands == ["provision", "provision"]
    assert len(registry.machines()) == 2


def run_in_memory(s: Settings, t: Trace):
    system = MemorySystem(s, SteppedClock(1000.0))
    replay = build_live_replay(s, t, plane=system.plane(durable_results=True),
                               components=system.components(), clock=system.clock, grace_s=30)
    return system, replay, replay.run()


def test_a_live_replay_on_memory_adapters_completes_every_job_once_and_cleans_up():
    s, t = settings(), trace()
    system, replay, record = run_in_memory(s, t)
    assert set(replay.tally.results) == {replay.prefix + j for j in t.ids}
    assert replay.tally.duplicates == 0 and replay.tally.failed == 0
    assert record.backend == "live" and len(record.machines) == 2
    assert all(m.ready_at is not None and m.ready_at >= 2.0 for m in record.machines)
    took = record.jobs.end_s - record.jobs.start_s
    assert took.min() == pytest.approx(0.4) and took.max() == pytest.approx(0.4)
    assert system.provider.alive() == set() and system.registry.all_machines() == []
    assert system.clock.now() - 1000.0 < 60  # virtual seconds, not a timeout


def test_a_live_replay_on_memory_adapters_is_the_same_every_time():
    s, t = settings(policy="slo", policy_params={}), trace(jobs=60, every_s=0.2, service_s=1.0)
    first, second = run_in_memory(s, t)[2], run_in_memory(s, t)[2]
    assert first.duration_s == second.duration_s
    assert sorted(m.ready_at for m in first.machines) == sorted(m.ready_at for m in second.machines)
    assert first.jobs.end_s.tolist() == second.jobs.end_s.tolist()


def test_a_live_run_refuses_a_provider_whose_machines_run_no_worker():
    with pytest.raises(ConfigurationError, match="provider 'memory' runs no worker"):
        build_live_replay(settings(), trace())


def test_a_refused_replay_leaves_the_fleet_it_found_untouched():
    s = settings()
    system = MemorySystem(s, SteppedClock(0.0))
    system.registry.create(Machine("theirs", S.PREPARING, 0.0, 0.0))
    system.registry.transition("theirs", S.FAILED, 0.0, "a test")
    system.broker.command_bus().send_report(StateReport(machine_id="theirs", state="failed",
                                                        at=0.0))
    replay = build_live_replay(s, trace(), plane=system.plane(),
                               components=system.components(), clock=system.clock)
    with pytest.raises(LiveReplayError, match="machines already recorded"):
        replay.run()
    assert [m.id for m in system.registry.all_machines()] == ["theirs"]
    assert system.broker.command_bus().next_report(0) is not None
