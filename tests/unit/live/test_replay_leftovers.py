"""A live replay stopped early cleans up as at its end; one that finds what a killed replay
left removes it first; claims tell a dead run from a running one. On in-memory adapters and
a stepped clock (the real services: tests/integration/test_it_replay_signals.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from imgproc.bootstrap.live import build_live_replay
from imgproc.bootstrap.memory import MemorySystem
from imgproc.core.clock import SteppedClock
from imgproc.core.fleet import CommandedFleet
from imgproc.core.machines import MachineState
from imgproc.core.messages import JobMessage
from imgproc.core.trace import Job, Trace
from imgproc.live.record import ClaimFiles
from imgproc.live.replay import (
    Leftovers,
    LiveReplayError,
    LiveReplayInterrupted,
    job_prefix,
    withdraw_jobs,
)
from imgproc.live.scaler import new_machine_id
from imgproc.live.signals import stopped_by_signals
from imgproc.settings import Settings

S = MachineState
SCOPE = "memory/imgproc"


def settings() -> Settings:
    return Settings(policy="constantsize", policy_params={"size": 2},
                    scaler={"interval_s": 1.0}, provider={"kind": "memory", "boot_delay_s": 2.0})


def trace(jobs: int = 40) -> Trace:
    return Trace.from_jobs("t", [Job(f"j{i}", i * 0.2, 1.0) for i in range(jobs)])


class Rig:
    """A memory system and a replay's leftovers on it."""

    def __init__(self, claims_dir: Path) -> None:
        self.system = MemorySystem(settings(), SteppedClock(1000.0))
        self.claims = ClaimFiles(claims_dir, SCOPE)
        self.leftovers = Leftovers(
            self.claims, lambda prefix: withdraw_jobs(self.system.broker.job_source(), prefix))

    def replay(self, stop: threading.Event | None = None, **kwargs):
        return build_live_replay(self.system.settings, trace(),
                                 plane=self.system.plane(durable_results=True),
                                 components=self.system.components(), clock=self.system.clock,
                                 grace_s=30, leftovers=self.leftovers, stop=stop, **kwargs)

    def queued(self) -> int:
        return self.system.broker.ready(self.system.settings.rabbit.jobs_queue)

    def dead_claim(self, run_id: str, started_at: float) -> None:
        self.claims.directory.mkdir(parents=True, exist_ok=True)
        (self.claims.directory / f"{run_id}.json").write_text(json.dumps({
            "run_id": run_id, "scope": SCOPE, "host": socket.gethostname(), "pid": ended_pid(),
            "pid_started": 0.0, "started_at": started_at}))


def ended_pid() -> int:
    """The pid of a process that has ended (and was reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_stopped_replay_destroys_its_machines_withdraws_its_jobs_and_says_so(tmp_path):
    rig = Rig(tmp_path / "replays")
    stop = threading.Event()
    replay = rig.replay(stop, on_sample=lambda done, _n, _t: done >= 5 and stop.set())
    with pytest.raises(LiveReplayInterrupted) as raised:
        replay.run()
    assert 5 <= raised.value.completed < 40 and raised.value.withdrawn > 0
    assert rig.system.provider.alive() == set() and rig.system.registry.all_machines() == []
    assert rig.queued() == 0
    assert list(rig.claims.directory.glob("*.json")) == []
    assert rig.system.deployer.state() != "running"


def test_a_replay_removes_what_a_killed_replay_left_then_plays_its_trace(tmp_path):
    rig = Rig(tmp_path / "replays")
    system = rig.system
    rig.dead_claim("dead0001", started_at=system.clock.now())
    fleet = CommandedFleet(system.registry, system.broker.command_bus(), system.clock,
                           new_machine_id)
    system.deployer.start()
    left = [fleet.request_machine() for _ in range(2)]
    for _ in range(5):
        system.clock.sleep(1.0)  # a step of each: the deployer takes a command a step
    system.deployer.stop()  # its deployer stopped with it: the machines stay up
    publisher = system.broker.job_publisher()
    for i in range(3):
        publisher.publish(JobMessage(job_id=f"{job_prefix('dead0001')}{i}",
                                     submitted_at=system.clock.now(), service_s=1.0))
    assert system.provider.alive() == set(left)

    replay = rig.replay()
    record = replay.run()

    assert record.backend == "live"
    assert set(replay.tally.results) == {replay.prefix + j for j in trace().ids}
    assert system.provider.alive() == set() and system.registry.all_machines() == []
    assert rig.queued() == 0
    assert list(rig.claims.directory.glob("*.json")) == []


def test_a_replay_refuses_to_run_beside_a_running_replay(tmp_path):
    rig = Rig(tmp_path / "replays")
    rig.claims.claim("alive001", started_at=0.0)  # this very process: alive
    with pytest.raises(LiveReplayError, match=r"replay alive001 \(pid \d+ on .*\) is running"):
        rig.replay().run()
    assert [c.run_id for c in rig.claims.others("")] == ["alive001"]


def test_machines_older_than_a_dead_replay_are_not_its_own_and_make_the_replay_refuse(tmp_path):
    rig = Rig(tmp_path / "replays")
    system = rig.system
    CommandedFleet(system.registry, system.broker.command_bus(), system.clock,
                   new_machine_id).request_machine()
    system.clock.sleep(10.0)
    rig.dead_claim("dead0002", started_at=system.clock.now())
    with pytest.raises(LiveReplayError, match="clear it with `imgproc zk clear`"):
        rig.replay().run()
    assert len(system.registry.machines()) == 1


def test_claims_tell_dead_owners_other_hosts_other_scopes_and_stray_files(tmp_path):
    claims = ClaimFiles(tmp_path, SCOPE)
    claims.claim("mine", 1.0)
    base = {"scope": SCOPE, "pid_started": 0.0, "started_at": 2.0}
    records = {"dead": {**base, "host": claims.host, "pid": ended_pid()},
               "far": {**base, "host": "elsewhere", "pid": 1},
               "other-root": {**base, "scope": "x/other", "host": claims.host, "pid": 1}}
    for run_id, record in records.items():
        (tmp_path / f"{run_id}.json").write_text(json.dumps({"run_id": run_id, **record}))
    (tmp_path / "stray.json").write_text("not a claim")
    alive = {c.run_id: c.alive for c in claims.others("someone")}
    assert alive == {"mine": True, "dead": False, "far": True}
    claims.release("dead")
    assert {c.run_id for c in claims.others("mine")} == {"far"}


def test_withdrawing_stops_at_a_job_of_another_run_and_leaves_it(tmp_path):
    system = MemorySystem(settings(), SteppedClock(0.0))
    publisher = system.broker.job_publisher()
    for job_id in ("rA-1", "rA-2", "other-1", "rA-3"):
        publisher.publish(JobMessage(job_id=job_id, submitted_at=0.0, service_s=1.0))
    assert withdraw_jobs(system.broker.job_source(), "rA-", wait_s=0) == 2
    assert system.broker.ready(system.settings.rabbit.jobs_queue) == 2


def test_signals_set_the_stop_event_and_the_old_handlers_come_back():
    stop = threading.Event()
    before = signal.getsignal(signal.SIGHUP)
    with stopped_by_signals(stop) as caught:
        assert caught() is None
        os.kill(os.getpid(), signal.SIGHUP)
        assert stop.wait(5) and caught() is signal.SIGHUP
    assert signal.getsignal(signal.SIGHUP) is before
