"""A worker killed with SIGKILL in the middle of a job: the job is not lost, the machine
is marked failed by the deployer, and the scaler replaces it."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
from it_support import LiveRig

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import RabbitJobPublisher
from imgproc.core.machines import MachineState
from imgproc.core.messages import JobMessage, StateReport
from imgproc.core.results import ResultTally

pytestmark = pytest.mark.services
S = MachineState
SERVICE_S = 3.0


def start_fleet(rig: LiveRig, size: int) -> tuple[ManagedProcess, ManagedProcess]:
    """A deployer and a constantsize scaler deciding every half second."""
    deployer = rig.spawn("deployer", "deployer")
    scaler = rig.spawn("scaler", "scaler", "--policy", "constantsize", "--param", f"size={size}",
                       "--interval", "0.5", "--identifier", f"it-{rig.run_id}")
    return deployer, scaler


def test_a_killed_worker_s_job_is_redelivered_and_the_machine_replaced(rig):
    feed = rig.feed()  # bound before any job is submitted: no result can be missed
    deployer, scaler = start_fleet(rig, size=2)
    first = rig.wait_for(lambda: len(rig.machines(S.RUNNING)) == 2 and rig.machines(S.RUNNING),
                         "two running workers", 40)
    first_ids = {m.id for m in first}

    publisher = rig.keep(RabbitJobPublisher(rig.rabbit, role=f"test {rig.run_id}"))
    jobs = [f"slow-{i}" for i in range(4)]
    for job_id in jobs:
        publisher.publish(JobMessage(job_id=job_id, submitted_at=time.time(), service_s=SERVICE_S))

    victim = rig.wait_for(lambda: next((m for m in rig.machines(S.RUNNING) if m.current_job), None),
                          "a worker busy with a job", 15, poll_s=0.02)
    pid = int(victim.details["pid"])
    rig.check(rig.machine_of(psutil.Process(pid)) == victim.id,
              f"pid {pid} recorded for {victim.id} is not that worker")
    os.kill(pid, signal.SIGKILL)
    killed_at = time.time()

    tally = ResultTally()

    def every_job_has_a_result() -> bool:
        for result in feed.poll_results(0.2):
            tally.add(result)
        return tally.completed >= len(jobs)

    rig.wait_for(every_job_has_a_result,
                 lambda: f"results of {jobs} (have {sorted(tally.results)})", 60)
    assert sorted(tally.results) == jobs
    assert tally.failed == 0, {k: r.error for k, r in tally.results.items()}
    redone = tally.results[victim.current_job]
    assert redone.worker != victim.id, redone
    assert redone.redelivered, f"{redone} should say it was redelivered"
    assert redone.finished_at > killed_at
    assert tally.duplicates == 0, "the killed worker never published, so nothing is doubled"

    # The deployer noticed (failed, with a reason) and tore the record down.
    def victim_gone():
        record = next(m for m in rig.machines() if m.id == victim.id)
        return record if record.state is S.DESTROYED else None

    gone = rig.wait_for(victim_gone, f"{victim.id} to be recorded destroyed", 20)
    assert gone.reason and "disappeared" in gone.reason, gone
    reports: list[StateReport] = []
    bus = rig.bus()

    def reported_gone() -> bool:
        delivery = bus.next_report(0.2)
        while delivery is not None:
            reports.append(StateReport.decode(delivery.body))
            delivery.ack()
            delivery = bus.next_report(0)
        return any(r.machine_id == victim.id and r.state == "destroyed" for r in reports)

    rig.wait_for(reported_gone, f"the deployer's reports on {victim.id}", 10)
    failed = [r for r in reports if r.machine_id == victim.id and r.state == "failed"]
    rig.check(len(failed) == 1 and failed[0].reason == gone.reason,
              f"the deployer should report {victim.id} failed once: {reports}")

    # The scaler replaced it: a new machine runs, the fleet is back to two.
    rig.wait_for(lambda: {m.id for m in rig.machines(S.RUNNING)} - first_ids,
                 "a replacement machine to be running", 30)
    rig.wait_for(lambda: len(rig.machines(S.RUNNING)) == 2, "the fleet back at two", 30)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    # Tear down through the system itself: scaler off, destroy everything, deployer off.
    scaler.stop()
    rig.destroy_all()
    rig.check(deployer.stop() == 0, "the deployer should exit cleanly")
    rig.check(rig.worker_processes() == [], "no worker process may be left")
