"""A real worker loop on the real broker, with the faults that used to lose or repeat jobs:
a job longer than three heartbeats, a job past the maximum job time, a worker killed between
publishing its result and acknowledging its job. Checked by job id."""

from __future__ import annotations

import threading
import time

from imgproc.adapters.job_threads import JobThread
from imgproc.adapters.rabbit import RabbitJobSource, RabbitResultSink
from imgproc.adapters.system_clock import SystemClock
from imgproc.core.messages import JobMessage, ResultMessage
from imgproc.core.results import ResultTally
from imgproc.core.worker import SimulatedWork, Worker

HEARTBEAT_S = 1


def a_worker(kit, source, sink=None, max_job_s: float = 3600.0) -> Worker:
    simulated = SimulatedWork(time.sleep, max_job_s)
    return Worker("w1", source, sink or kit.keep(RabbitResultSink(kit.settings)), simulated,
                  simulated, SystemClock(), runner=JobThread(), max_job_s=max_job_s)


def a_job(job_id: str, service_s: float) -> JobMessage:
    return JobMessage(job_id=job_id, submitted_at=time.time(), service_s=service_s)


def collect(feed, count: int, timeout_s: float) -> list[ResultMessage]:
    results: list[ResultMessage] = []
    deadline = time.monotonic() + timeout_s
    while len(results) < count and time.monotonic() < deadline:
        results += feed.poll_results(0.5)
    return results


def test_a_job_longer_than_three_heartbeats_runs_once_on_one_connection(rabbit_kit):
    fast_heartbeats = rabbit_kit.settings.model_copy(update={"heartbeat_s": HEARTBEAT_S})
    feed = rabbit_kit.feed(durable=True)
    rabbit_kit.publisher().publish(a_job("long", service_s=4.0 * HEARTBEAT_S + 1))
    source = rabbit_kit.keep(RabbitJobSource(fast_heartbeats, role="long-job worker"))
    worker = a_worker(rabbit_kit, source)
    assert worker.step(5.0)
    results = collect(feed, 1, 10.0)
    assert [(r.job_id, r.status, r.redelivered) for r in results] == [("long", "done", False)]
    assert source.connections == 1, "the connection holding the job was never lost"
    assert not worker.step(2.0), "the job was acknowledged: nothing comes back"
    assert collect(feed, 1, 1.0) == []


def test_a_job_past_the_maximum_time_fails_clearly_and_the_worker_goes_on(rabbit_kit):
    feed = rabbit_kit.feed()
    publisher = rabbit_kit.publisher()
    publisher.publish(a_job("too-long", service_s=30.0))
    publisher.publish(a_job("short", service_s=0.1))
    worker = a_worker(rabbit_kit, rabbit_kit.source(), max_job_s=1.0)
    started = time.monotonic()
    assert worker.step(5.0) and worker.step(5.0)
    assert time.monotonic() - started < 10.0
    by_id = {r.job_id: r for r in collect(feed, 2, 10.0)}
    assert by_id["too-long"].status == "failed"
    assert "maximum job time of 1 s" in (by_id["too-long"].error or "")
    assert by_id["short"].status == "done"


class Stuck:
    """Work that never ends by itself (an image operation that hangs): only the worker's
    own deadline can give up on it."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def execute(self, job: JobMessage) -> None:
        if job.job_id.startswith("stuck"):
            self.release.wait(60)


def test_a_job_stuck_on_its_thread_is_abandoned_at_the_maximum_time(rabbit_kit):
    feed = rabbit_kit.feed()
    publisher = rabbit_kit.publisher()
    publisher.publish(a_job("stuck-1", service_s=0.0))
    publisher.publish(a_job("next", service_s=0.0))
    stuck = Stuck()
    worker = Worker("w1", rabbit_kit.source(), rabbit_kit.keep(RabbitResultSink(
        rabbit_kit.settings)), stuck, stuck, SystemClock(), runner=JobThread(), max_job_s=1.0)
    try:
        assert worker.step(5.0) and worker.step(5.0)
    finally:
        stuck.release.set()
    by_id = {r.job_id: r for r in collect(feed, 2, 10.0)}
    assert by_id["stuck-1"].status == "failed"
    assert "maximum job time of 1 s" in (by_id["stuck-1"].error or "")
    assert by_id["next"].status == "done", "the next job did not queue behind the stuck one"


class DiesAfterPublishing:
    """A result sink whose worker dies right after its result is confirmed, before the ack:
    its connection to the jobs queue goes, as a killed process's would."""

    def __init__(self, sink: RabbitResultSink, source: RabbitJobSource) -> None:
        self.sink = sink
        self.source = source

    def publish_result(self, result: ResultMessage) -> None:
        self.sink.publish_result(result)
        self.source.close()

    def keep_alive(self) -> None:
        self.sink.keep_alive()

    def close(self) -> None:
        self.sink.close()


def test_a_worker_killed_between_result_and_ack_is_counted_once_with_a_duplicate(rabbit_kit):
    feed = rabbit_kit.feed()
    rabbit_kit.publisher().publish(a_job("j1", service_s=0.1))
    doomed_source = rabbit_kit.source()
    dying = DiesAfterPublishing(rabbit_kit.keep(RabbitResultSink(rabbit_kit.settings)),
                                doomed_source)
    a_worker(rabbit_kit, doomed_source, sink=dying).step(5.0)
    survivor = a_worker(rabbit_kit, rabbit_kit.source())
    assert survivor.step(5.0), "the unacknowledged job came back"
    results = collect(feed, 2, 10.0)
    assert [r.job_id for r in results] == ["j1", "j1"]
    assert results[1].redelivered
    tally = ResultTally()
    for result in results:
        tally.add(result)
    assert (tally.completed, tally.duplicates) == (1, 1)
    assert not survivor.step(1.0)


def test_a_stop_during_a_long_job_lets_it_finish_first(rabbit_kit):
    feed = rabbit_kit.feed()
    rabbit_kit.publisher().publish(a_job("j2", service_s=2.0))
    worker = a_worker(rabbit_kit, rabbit_kit.source())
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop, 0.2))
    runner.start()
    time.sleep(1.0)
    stop.set()
    runner.join(10.0)
    assert [r.status for r in collect(feed, 1, 5.0)] == ["done"]
