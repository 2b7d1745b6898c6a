"""The results exchange's contract, checked on the in-memory broker and on RabbitMQ alike."""

from __future__ import annotations

import threading
import time

from polling import collect_until

from imgproc.core.messages import ResultMessage


def result(n: int) -> ResultMessage:
    return ResultMessage(job_id=f"job-{n}", worker="worker-1", submitted_at=10.0 + n,
                         started_at=11.0 + n, finished_at=12.0 + n, status="done")


def collect_results(feed, count: int, timeout_s: float = 5.0) -> list[ResultMessage]:
    """Poll ``feed`` until ``count`` results came or ``timeout_s`` passed without one."""
    return collect_until(lambda: feed.poll_results(timeout_s), lambda got: len(got) >= count)


def test_every_feed_receives_every_result(broker_kit):
    console, scaler = broker_kit.feed(), broker_kit.feed()
    sink = broker_kit.sink()
    for n in range(3):
        sink.publish_result(result(n))
    assert collect_results(console, 3) == [result(n) for n in range(3)]
    assert collect_results(scaler, 3) == [result(n) for n in range(3)]


def test_poll_returns_nothing_when_no_result_arrives_in_time(broker_kit):
    assert broker_kit.feed().poll_results(0.1) == []


def test_a_feed_sees_no_result_published_before_it_existed(broker_kit):
    sink = broker_kit.sink()
    sink.publish_result(result(1))
    late = broker_kit.feed()
    sink.publish_result(result(2))
    assert collect_results(late, 2, timeout_s=1.0) == [result(2)]


def test_a_durable_feed_sees_every_result_from_when_it_was_made_and_none_before(broker_kit):
    sink = broker_kit.sink()
    sink.publish_result(result(1))
    durable = broker_kit.feed(durable=True)
    for n in range(2, 5):
        sink.publish_result(result(n))
    assert collect_results(durable, 3, timeout_s=1.0) == [result(n) for n in range(2, 5)]


def test_a_durable_feed_on_an_empty_store_sees_the_first_result(broker_kit):
    durable = broker_kit.feed(durable=True)
    broker_kit.sink().publish_result(result(1))
    assert collect_results(durable, 1) == [result(1)]


def test_a_durable_feed_made_while_results_keep_coming_is_made_promptly_and_sees_them(
        broker_kit):
    stop = threading.Event()

    def publish_until_stopped() -> None:
        sink = broker_kit.sink()
        n = 0
        while not stop.is_set():
            sink.publish_result(result(n))
            n += 1

    thread = threading.Thread(target=publish_until_stopped)
    thread.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        durable = broker_kit.feed(durable=True)
        made_s = time.monotonic() - started
        taken = collect_results(durable, 20)
    finally:
        stop.set()
        thread.join(10)
    assert made_s < 10.0, f"making the feed took {made_s:.1f} s"  # not held up by the flood
    numbers = [int(r.job_id.split("-")[1]) for r in taken]
    assert len(numbers) >= 20 and numbers == sorted(set(numbers)), "new results, each once"


def test_two_durable_feeds_each_see_every_result(broker_kit):
    first, second = broker_kit.feed(durable=True), broker_kit.feed(durable=True)
    sink = broker_kit.sink()
    for n in range(3):
        sink.publish_result(result(n))
    assert collect_results(first, 3) == [result(n) for n in range(3)]
    assert collect_results(second, 3) == [result(n) for n in range(3)]


def test_an_undecodable_result_is_dropped_and_the_next_ones_still_arrive(broker_kit):
    feed = broker_kit.feed()
    broker_kit.inject_result(b'{"v": 1, "job_id": "half a result"}')
    broker_kit.sink().publish_result(result(1))
    assert collect_results(feed, 1) == [result(1)]
