"""A job that kills every worker that takes it (as one that exhausts memory or crashes the
process would) goes round the fleet at most ``delivery_limit + 1`` times, then lies in the
dead-letter queue with the reason and the number of tries; every other job is done once.
The workers are real ``imgproc worker`` processes, killed with SIGKILL by the test the
moment their machine record shows the job."""

from __future__ import annotations

import os
import signal

import pytest
from fleet_support import start_fleet
from it_support import LiveRig

from imgproc.adapters.rabbit.peek import dead_letters

pytestmark = pytest.mark.services
DELIVERY_LIMIT = 3  # the default: the rig's own clients declare the queue with it too
POISON = "poison-0"


def kill_the_holder(rig: LiveRig, job_id: str, killed: list[int]) -> bool:
    """SIGKILL the worker process whose machine record holds ``job_id``; True if one did."""
    holders = {m.id for m in rig.machines() if m.current_job == job_id}
    for proc in rig.worker_processes():
        if rig.machine_of(proc) in holders and proc.pid not in killed:
            os.kill(proc.pid, signal.SIGKILL)
            killed.append(proc.pid)
            return True
    return False


def test_a_job_that_kills_its_worker_is_dead_lettered_after_the_delivery_limit(rig):
    fleet = start_fleet(rig)
    assert rig.rabbit.delivery_limit == DELIVERY_LIMIT
    jobs = fleet.submit("before", 4)
    fleet.submit("poison", 1, service_s=60.0)
    jobs += fleet.submit("after", 6)
    killed: list[int] = []
    settings = rig.rabbit

    def dead_lettered() -> bool:
        kill_the_holder(rig, POISON, killed)
        return any(m.message_id == POISON for m, _ in dead_letters(settings))

    rig.wait_for(dead_lettered, lambda: f"{POISON} in the dead letters ({len(killed)} kills; "
                 f"queues {rig.queue_messages()})",
                 90, poll_s=0.1)
    fleet.wait_for_results(jobs, 60)
    (reason,) = [r for m, r in dead_letters(settings) if m.message_id == POISON]
    print(f"{len(killed)} workers killed; dead-lettered: {reason}")
    assert len(killed) == DELIVERY_LIMIT + 1
    assert "delivery limit" in reason and f"{DELIVERY_LIMIT + 1} times" in reason
    assert set(fleet.tally.results) == set(jobs), "every other job was done"
    assert POISON not in fleet.tally.results and fleet.tally.failed == 0
    rig.wait_for(lambda: len(rig.worker_processes()) == 2, "the fleet replaced its workers", 40)
    fleet.finish(fleet.pids())
