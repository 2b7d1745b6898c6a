"""The live fleet's commands, counting results once, the live queue probe, and
replaying a trace's timing onto the jobs queue."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from imgproc.adapters.memory.broker import MemoryBroker
from imgproc.adapters.memory.registry import MemoryMachineRegistry
from imgproc.core.clock import ManualClock
from imgproc.core.fleet import CommandedFleet
from imgproc.core.image_ops import Thumbnail
from imgproc.core.jobs import Job
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import DeployerCommand, JobMessage, ResultMessage
from imgproc.core.observation import QueueStats
from imgproc.core.results import LiveQueueProbe, ResultTally
from imgproc.core.submit import submit_trace
from imgproc.core.trace import Trace

S = MachineState


def result(job_id: str, status: str = "done", submitted: float = 0.0, started: float = 1.0,
           finished: float = 3.0) -> ResultMessage:
    return ResultMessage(job_id=job_id, worker="w1", submitted_at=submitted, started_at=started,
                         finished_at=finished, status=status,
                         error="broken" if status == "failed" else None)


def commands_sent(broker: MemoryBroker) -> list[DeployerCommand]:
    bus = broker.command_bus()
    sent = []
    delivery = bus.next_command(0.0)
    while delivery is not None:
        sent.append(DeployerCommand.decode(delivery.body))
        delivery.ack()
        delivery = bus.next_command(0.0)
    bus.close()
    return sent


# ---- CommandedFleet ----------------------------------------------------------------


@pytest.fixture
def fleet_rig():
    broker = MemoryBroker()
    registry = MemoryMachineRegistry()
    clock = ManualClock(50.0)
    numbers = itertools.count(1)
    fleet = CommandedFleet(registry, broker.command_bus(), clock, lambda: f"w{next(numbers)}")
    return fleet, registry, broker, clock


def test_requesting_a_machine_records_it_preparing_and_asks_the_deployer_to_provision_it(fleet_rig):
    fleet, registry, broker, _ = fleet_rig

    machine_id = fleet.request_machine()

    machine = registry.get(machine_id)
    assert machine_id == "w1"
    assert (machine.state, machine.requested_at, machine.state_since) == (S.PREPARING, 50.0, 50.0)
    assert machine.details == {"type": "worker"}
    [command] = commands_sent(broker)
    assert (command.command, command.machine_id, command.machine_type, command.sent_at) == (
        "provision", "w1", "worker", 50.0)


def test_each_request_gets_a_new_machine(fleet_rig):
    fleet, registry, broker, _ = fleet_rig

    assert [fleet.request_machine(), fleet.request_machine()] == ["w1", "w2"]

    assert [m.id for m in registry.machines()] == ["w1", "w2"]
    assert [c.machine_id for c in commands_sent(broker)] == ["w1", "w2"]


def test_releasing_a_machine_asks_the_deployer_to_destroy_it_and_leaves_the_record_to_it(fleet_rig):
    fleet, registry, broker, clock = fleet_rig
    fleet.request_machine()
    clock.advance(10.0)

    fleet.release_machine("w1")

    _provision, destroy = commands_sent(broker)
    assert (destroy.command, destroy.machine_id, destroy.sent_at) == ("destroy", "w1", 60.0)
    assert registry.get("w1").state is S.PREPARING


# ---- ResultTally -------------------------------------------------------------------


def test_a_tally_counts_a_jobs_first_result_with_its_service_and_response_times():
    tally = ResultTally()

    assert tally.add(result("j1", submitted=0.0, started=1.0, finished=3.0)) is True

    assert tally.completed == 1
    assert (tally.service_s_total, tally.response_s_total) == (2.0, 3.0)
    assert (tally.duplicates, tally.failed) == (0, 0)


def test_a_second_result_for_the_same_job_is_a_duplicate_and_never_counted_twice():
    tally = ResultTally()
    first = result("j1")
    tally.add(first)

    assert tally.add(result("j1", started=5.0, finished=9.0)) is False

    assert (tally.completed, tally.duplicates) == (1, 1)
    assert tally.results["j1"] == first
    assert tally.service_s_total == 2.0


def test_a_failed_result_completes_the_job_and_counts_as_failed():
    tally = ResultTally()

    tally.add(result("j1", status="failed"))
    tally.add(result("j1", status="failed"))
    tally.add(result("j2"))

    assert (tally.completed, tally.failed, tally.duplicates) == (2, 1, 1)


def test_a_later_success_replaces_an_earlier_failure_of_the_same_job():
    tally = ResultTally()
    tally.add(result("j1", status="failed", started=1.0, finished=2.0))
    success = result("j1", started=5.0, finished=9.0)

    assert tally.add(success) is True, "the success is now the one counted"

    assert (tally.completed, tally.failed, tally.duplicates) == (1, 0, 1)
    assert tally.results["j1"] == success
    assert (tally.service_s_total, tally.response_s_total) == (4.0, 9.0)


def test_a_later_failure_never_replaces_an_earlier_success():
    tally = ResultTally()
    success = result("j1")
    tally.add(success)
    assert tally.add(result("j1", status="failed")) is False

    assert tally.results["j1"] == success and tally.failed == 0


# ---- LiveQueueProbe ----------------------------------------------------------------


def test_the_live_probe_counts_ready_jobs_busy_machines_and_results_and_derives_published():
    broker = MemoryBroker()
    registry = MemoryMachineRegistry()
    probe = LiveQueueProbe(broker.ready_count(), registry, broker.result_feed())
    publisher, sink = broker.job_publisher(), broker.result_sink()
    for i in range(3):
        publisher.publish(JobMessage(job_id=f"waiting{i}", submitted_at=0.0, service_s=1.0))
    for machine_id, job in [("busy1", "a"), ("busy2", "b"), ("idle", None)]:
        registry.create(Machine(machine_id, S.RUNNING, 0.0, 0.0, current_job=job))
    registry.create(Machine("gone", S.DESTROYED, 0.0, 0.0, current_job="stale"))
    sink.publish_result(result("done1", submitted=0.0, started=1.0, finished=2.0))
    sink.publish_result(result("done2", submitted=0.0, started=2.0, finished=5.0))
    sink.publish_result(result("done2", submitted=0.0, started=2.0, finished=5.0))  # redelivered

    stats = probe.stats()

    assert stats == QueueStats(ready=3, in_flight=2, published=2 + 3 + 2, completed=2,
                               service_s_total=4.0, response_s_total=7.0)
    assert probe.tally.duplicates == 1


def test_the_live_probe_keeps_its_counts_across_looks():
    broker = MemoryBroker()
    registry = MemoryMachineRegistry()
    probe = LiveQueueProbe(broker.ready_count(), registry, broker.result_feed())
    sink = broker.result_sink()
    sink.publish_result(result("j1"))
    first = probe.stats()

    sink.publish_result(result("j2"))
    second = probe.stats()

    assert (first.completed, second.completed) == (1, 2)
    assert (first.published, second.published) == (1, 2)


# ---- submit_trace ------------------------------------------------------------------


class SleepRecordingClock(ManualClock):
    """A manual clock that remembers every sleep it was asked for."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        super().sleep(seconds)


def small_trace() -> Trace:
    thumb = (Thumbnail(op="thumbnail", size=64),)
    return Trace.from_jobs("t", [
        Job("a", arrival_s=0.0, service_s=4.0, user="u1"),
        Job("b", arrival_s=1.0, service_s=2.0),
        Job("c", arrival_s=3.0, service_s=6.0, ops=thumb, input="in.jpg", output="out.jpg"),
        Job("d", arrival_s=3.0, service_s=None, ops=thumb, input="x.jpg", output="y.jpg"),
    ])


def published_jobs(broker: MemoryBroker) -> list[JobMessage]:
    source = broker.job_source()
    jobs = []
    delivery = source.next_delivery(0.0)
    while delivery is not None:
        jobs.append(JobMessage.decode(delivery.body))
        delivery.ack()
        delivery = source.next_delivery(0.0)
    source.close()
    return jobs


def test_a_trace_is_published_job_by_job_at_its_arrival_times_divided_by_the_speed():
    broker = MemoryBroker()
    clock = SleepRecordingClock(1000.0)

    count = submit_trace(small_trace(), broker.job_publisher(), clock, speed=2.0, prefix="run7-")

    jobs = published_jobs(broker)
    assert count == 4
    assert [j.job_id for j in jobs] == ["run7-a", "run7-b", "run7-c", "run7-d"]
    assert [j.submitted_at for j in jobs] == [1000.0, 1000.5, 1001.5, 1001.5]
    assert clock.slept == [0.5, 1.0]
    assert jobs[0].user == "u1"


def test_simulated_service_times_are_sped_up_but_image_jobs_keep_their_work():
    broker = MemoryBroker()

    submit_trace(small_trace(), broker.job_publisher(), ManualClock(0.0), speed=2.0)

    a, b, c, d = published_jobs(broker)
    assert (a.service_s, b.service_s) == (2.0, 1.0)
    assert (c.service_s, [op.op for op in c.ops], c.input, c.output) == (6.0, ["thumbnail"],
                                                                         "in.jpg", "out.jpg")
    assert d.service_s is None


def test_each_job_is_handed_to_on_submit_as_it_was_published():
    broker = MemoryBroker()
    seen: list[JobMessage] = []

    submit_trace(small_trace(), broker.job_publisher(), ManualClock(0.0), on_submit=seen.append)

    assert seen == published_jobs(broker)


def test_submitting_stops_early_when_told_to_and_says_how_many_went_out():
    broker = MemoryBroker()
    clock = SleepRecordingClock(0.0)

    count = submit_trace(small_trace(), broker.job_publisher(), clock,
                         should_stop=lambda: clock.now() >= 3.0)

    assert count == 2
    assert [j.job_id for j in published_jobs(broker)] == ["a", "b"]


@pytest.mark.parametrize("speed", [0.0, -1.0])
def test_a_speed_that_is_not_positive_is_refused_before_anything_is_published(speed):
    broker = MemoryBroker()

    with pytest.raises(ValueError, match="speed must be > 0"):
        submit_trace(small_trace(), broker.job_publisher(), ManualClock(0.0), speed=speed)

    assert broker.ready(broker.settings.jobs_queue) == 0


def test_an_empty_trace_publishes_nothing():
    broker = MemoryBroker()
    empty = Trace("empty", [], np.array([]), np.array([]), [])

    assert submit_trace(empty, broker.job_publisher(), ManualClock(0.0)) == 0
    assert published_jobs(broker) == []
