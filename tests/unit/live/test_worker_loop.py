"""The worker's loop against the in-memory broker and registry: a job is done,
its result published, and only then acknowledged; bad jobs never stop it."""

from __future__ import annotations

import threading

import pytest

from imgproc.adapters.memory.broker import MemoryBroker
from imgproc.adapters.memory.registry import MemoryMachineRegistry
from imgproc.adapters.rabbit.errors import BrokerUnavailable
from imgproc.core.clock import ManualClock
from imgproc.core.errors import ImgprocError
from imgproc.core.image_ops import Thumbnail
from imgproc.core.messages import JobMessage, ResultMessage
from imgproc.core.worker import SimulatedWork, Worker
from imgproc.live.worker import RegistryProgress, come_up, outward_address


class RecordingWork:
    """An executor that remembers the jobs it was given and can be told to fail."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.jobs: list[str] = []
        self.fail_with = fail_with

    def execute(self, job: JobMessage) -> None:
        self.jobs.append(job.job_id)
        if self.fail_with is not None:
            raise self.fail_with


class UnreachableSink:
    """A result sink whose broker never confirms (as a dropped connection would)."""

    def publish_result(self, result: ResultMessage) -> None:
        raise BrokerUnavailable("publishing a result", "memory://broker", "connection lost")

    def keep_alive(self) -> None:
        pass

    def close(self) -> None:
        pass


class Rig:
    """One memory broker, a feed watching results, and a way to make workers on it."""

    def __init__(self) -> None:
        self.broker = MemoryBroker()
        self.feed = self.broker.result_feed()
        self.publisher = self.broker.job_publisher()
        self.clock = ManualClock(1000.0)
        self.sources = []

    def worker(self, worker_id: str = "w1", image_work=None, simulated_work=None,
               results=None, listener=None) -> Worker:
        source = self.broker.job_source()
        self.sources.append(source)
        return Worker(worker_id, source, results or self.broker.result_sink(),
                      image_work or RecordingWork(),
                      simulated_work or SimulatedWork(self.clock.sleep), self.clock, listener)

    def submit(self, job_id: str, service_s: float = 2.0, **fields) -> None:
        self.publisher.publish(JobMessage(job_id=job_id, submitted_at=self.clock.now(),
                                          service_s=service_s, **fields))

    def results(self) -> list[ResultMessage]:
        return self.feed.poll_results(0.0)

    def jobs_left_after_workers_close(self) -> int:
        """Jobs the broker would hand out again once every worker's connection is gone."""
        for source in self.sources:
            source.close()
        return self.broker.ready(self.broker.settings.jobs_queue)

    def dead_letters(self) -> list[tuple[bytes, str | None]]:
        source = self.broker.job_source(self.broker.settings.dead_letter_queue)
        letters = []
        delivery = source.next_delivery(0.0)
        while delivery is not None:
            letters.append((delivery.body, delivery.reason))
            delivery.ack()
            delivery = source.next_delivery(0.0)
        source.close()
        return letters


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_job_is_served_and_its_result_published_and_the_job_acknowledged(rig):
    rig.submit("j1", service_s=2.5)
    worker = rig.worker()

    assert worker.step(0.0) is True

    [result] = rig.results()
    assert (result.job_id, result.worker, result.status, result.error) == ("j1", "w1", "done", None)
    assert result.submitted_at == 1000.0
    assert (result.started_at, result.finished_at) == (1000.0, 1002.5)
    assert result.redelivered is False
    assert worker.counters.done == 1
    assert rig.jobs_left_after_workers_close() == 0


def test_a_step_with_no_job_waiting_reports_nothing_done(rig):
    worker = rig.worker()

    assert worker.step(0.0) is False
    assert rig.results() == []


def test_a_result_the_broker_never_confirmed_leaves_the_job_unacknowledged_for_redelivery(rig):
    rig.submit("j1")
    dying = rig.worker("w1", results=UnreachableSink())

    with pytest.raises(BrokerUnavailable):
        dying.step(0.0)

    assert dying.counters.done == 0
    assert rig.results() == []
    assert rig.jobs_left_after_workers_close() == 1  # the worker's connection dies: back it goes

    survivor = rig.worker("w2")
    assert survivor.step(0.0) is True
    [result] = rig.results()
    assert (result.job_id, result.worker, result.redelivered) == ("j1", "w2", True)
    assert rig.jobs_left_after_workers_close() == 0


def test_a_job_the_executor_cannot_do_is_reported_failed_and_the_worker_carries_on(rig):
    rig.submit("bad", ops=[Thumbnail(op="thumbnail", size=64)], input="in.jpg", output="out.jpg")
    rig.submit("good")
    worker = rig.worker(image_work=RecordingWork(fail_with=ImgprocError("cannot read in.jpg")))

    assert worker.step(0.0) and worker.step(0.0)

    failed, done = rig.results()
    assert (failed.job_id, failed.status, failed.error) == ("bad", "failed", "cannot read in.jpg")
    assert (done.job_id, done.status, done.error) == ("good", "done", None)
    assert (worker.counters.failed, worker.counters.done) == (1, 1)
    assert rig.jobs_left_after_workers_close() == 0


def test_an_unexpected_exception_in_a_job_is_reported_failed_with_its_type_and_the_worker_goes_on(
        rig):
    rig.submit("crash")
    rig.submit("next")
    simulated = RecordingWork(fail_with=RuntimeError("boom"))
    worker = rig.worker(simulated_work=simulated)

    assert worker.step(0.0) and worker.step(0.0)

    first, second = rig.results()
    assert (first.job_id, first.status, first.error) == ("crash", "failed", "RuntimeError: boom")
    assert second.job_id == "next"
    assert simulated.jobs == ["crash", "next"]
    assert worker.counters.failed == 2
    assert rig.jobs_left_after_workers_close() == 0


@pytest.mark.parametrize("body", [
    b"{not json",
    b'{"v": 1, "job_id": "j", "submitted_at": 0}',                      # neither ops nor service_s
    b'{"v": 2, "job_id": "j", "submitted_at": 0, "service_s": 1}',      # a version we do not speak
], ids=["undecodable", "no-work-described", "unknown-version"])
def test_a_message_that_is_not_a_valid_job_is_dead_lettered_with_a_reason_and_never_redelivered(
        rig, body):
    rig.publisher.publish_body(body, "odd-1")
    rig.submit("after")
    worker = rig.worker()

    assert worker.step(0.0) and worker.step(0.0)

    [(letter, reason)] = rig.dead_letters()
    assert letter == body
    assert reason is not None and reason.startswith("invalid JobMessage message")
    assert [r.job_id for r in rig.results()] == ["after"]
    assert worker.counters.dead_lettered == 1
    assert rig.jobs_left_after_workers_close() == 0


def test_a_redelivered_job_says_so_in_its_result(rig):
    rig.submit("j1")
    crashed = rig.broker.job_source()
    assert crashed.next_delivery(0.0) is not None
    crashed.close()  # died holding the job, never settled it
    worker = rig.worker()

    assert worker.step(0.0)

    [result] = rig.results()
    assert (result.job_id, result.redelivered) == ("j1", True)


def test_simulated_work_waits_each_jobs_service_time_through_the_injected_sleep():
    slept: list[float] = []
    work = SimulatedWork(slept.append)

    work.execute(JobMessage(job_id="a", submitted_at=0, service_s=1.5))
    work.execute(JobMessage(job_id="b", submitted_at=0, service_s=0))

    assert slept == [1.5, 0.0]


def test_image_jobs_go_to_the_image_executor_and_simulated_ones_to_the_simulated_executor(rig):
    rig.submit("img", service_s=None, ops=[Thumbnail(op="thumbnail", size=32)],
               input="a.jpg", output="b.jpg")
    rig.submit("sim", service_s=3.0)
    slept: list[float] = []
    images = RecordingWork()
    worker = rig.worker(image_work=images, simulated_work=SimulatedWork(slept.append))

    assert worker.step(0.0) and worker.step(0.0)

    assert images.jobs == ["img"]
    assert slept == [3.0]


def test_a_stop_asked_for_during_a_job_lets_that_job_finish_and_takes_no_other(rig):
    rig.submit("first")
    rig.submit("second")
    stop = threading.Event()

    class StopsWhileWorking:
        def execute(self, job: JobMessage) -> None:
            stop.set()

    worker = rig.worker(simulated_work=StopsWhileWorking())

    worker.run(stop, poll_s=0.01)

    assert [(r.job_id, r.status) for r in rig.results()] == [("first", "done")]
    assert rig.jobs_left_after_workers_close() == 1  # "second" waits for another worker


def test_a_worker_told_to_stop_before_it_starts_takes_no_job(rig):
    rig.submit("j1")
    stop = threading.Event()
    stop.set()

    rig.worker().run(stop, poll_s=0.01)

    assert rig.results() == []
    assert rig.broker.ready(rig.broker.settings.jobs_queue) == 1


def test_a_running_worker_serves_jobs_as_they_come_and_stops_when_idle(rig):
    worker = rig.worker()
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, 0.01), daemon=True)
    thread.start()
    try:
        rig.submit("j1")
        results = rig.feed.poll_results(5.0)
    finally:
        stop.set()
        thread.join(5.0)

    assert [r.job_id for r in results] == ["j1"]
    assert not thread.is_alive()


def test_the_registry_shows_a_busy_worker_and_counts_its_jobs_once_it_is_idle(rig):
    registry = MemoryMachineRegistry()
    come_up(registry, "w1", rig.clock.now(), "10.0.0.7")
    seen_while_working: list[str | None] = []

    class LooksAtItsRecord:
        def execute(self, job: JobMessage) -> None:
            seen_while_working.append(registry.get("w1").current_job)

    rig.submit("j1")
    rig.submit("j2")
    worker = rig.worker(simulated_work=LooksAtItsRecord(),
                        listener=RegistryProgress(registry, "w1", rig.clock))

    assert worker.step(0.0) and worker.step(0.0)
    assert seen_while_working == ["j1", "j1"]
    assert registry.get("w1").current_job is not None

    assert not worker.step(0.0)
    machine = registry.get("w1")
    assert (machine.state.value, machine.current_job, machine.jobs_done) == ("running", None, 2)


def test_a_job_taken_while_busy_is_named_in_the_record_once_it_runs_past_a_refresh(rig):
    registry = MemoryMachineRegistry()
    come_up(registry, "w1", rig.clock.now(), "10.0.0.7")
    progress = RegistryProgress(registry, "w1", rig.clock, refresh_s=1.0)
    progress.job_started("j1")
    progress.job_finished("j1", ok=True)
    progress.job_started("j2")  # busy throughout: not written yet, to spare ZooKeeper
    progress.working("j2")
    assert registry.get("w1").current_job == "j1"
    rig.clock.advance(1.0)
    progress.working("j2")
    assert registry.get("w1").current_job == "j2"


def test_a_job_on_its_own_thread_is_reported_as_still_running_about_every_second(rig):
    from imgproc.adapters.job_threads import JobThread

    heard: list[str] = []

    class Listener:
        def job_started(self, job_id): pass
        def working(self, job_id): heard.append(job_id)
        def job_finished(self, job_id, ok): pass
        def idle(self): pass

    class TakesASecondAndAHalf:
        def execute(self, job: JobMessage) -> None:
            threading.Event().wait(1.5)

    rig.submit("slow")
    worker = Worker("w1", rig.broker.job_source(), rig.broker.result_sink(), RecordingWork(),
                    TakesASecondAndAHalf(), rig.clock, Listener(), runner=JobThread())
    assert worker.step(0.0)
    assert heard and set(heard) == {"slow"}
    assert [r.status for r in rig.results()] == ["done"]


def test_a_worker_that_comes_up_records_its_address_and_host_name(rig):
    registry = MemoryMachineRegistry()
    come_up(registry, "w1", rig.clock.now(), "192.168.121.40")
    machine = registry.get("w1")
    assert (machine.state.value, machine.address) == ("running", "192.168.121.40")
    assert machine.details["host"]


def test_the_outward_address_is_the_one_that_routes_to_zookeeper():
    assert outward_address("127.0.0.1:2181") == "127.0.0.1"
    assert outward_address("127.0.0.1:2181,10.9.9.9:2181/imgproc") == "127.0.0.1"


class RefusingReplies:
    """A result sink whose replies the broker refuses (a full reply queue, say)."""

    def __init__(self, sink) -> None:
        self.sink = sink

    def publish_result(self, result: ResultMessage) -> None:
        self.sink.publish_result(result)

    def reply(self, queue: str, result: ResultMessage) -> None:
        raise BrokerUnavailable(f"replying to {queue}", "memory://broker", "rejected")

    def keep_alive(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_reply_that_cannot_be_sent_still_leaves_the_job_done_and_acknowledged():
    rig = Rig()
    worker = rig.worker(results=RefusingReplies(rig.broker.result_sink()))
    rig.submit("a", reply_to="imgproc.replies.c1")
    rig.submit("b")
    assert worker.step(0) and worker.step(0)
    assert [(r.job_id, r.status) for r in rig.results()] == [("a", "done"), ("b", "done")]
    assert rig.jobs_left_after_workers_close() == 0


def test_a_job_naming_a_queue_that_is_not_a_reply_queue_is_refused():
    with pytest.raises(ValueError, match="reply_to"):
        JobMessage(job_id="a", submitted_at=0, service_s=1, reply_to="upload-picture")
