"""RabbitMQ only: clients whose connection the broker closes reconnect and lose nothing."""

from __future__ import annotations

import threading

from polling import wait_for

from imgproc.core.messages import JobMessage, ResultMessage

MAX_JOBS = 5000


def drain_job_ids(source, quiet_s: float = 0.5) -> list[str]:
    """Every job id delivered until none comes for ``quiet_s``, acking each."""
    ids: list[str] = []
    while (delivery := source.next_delivery(quiet_s)) is not None:
        ids.append(JobMessage.decode(delivery.body).job_id)
        delivery.ack()
    return ids


def test_a_publisher_whose_connection_the_server_closes_loses_no_job(rabbit_kit, rabbit_server):
    publisher = rabbit_kit.publisher()
    confirmed: list[str] = []
    stop = threading.Event()

    def publish_until_stopped() -> None:
        for n in range(MAX_JOBS):
            if stop.is_set():
                return
            publisher.publish(rabbit_kit.job(n))
            confirmed.append(f"job-{n}")

    thread = threading.Thread(target=publish_until_stopped)
    thread.start()
    try:
        wait_for(lambda: len(confirmed) >= 20, "the first confirmed jobs", timeout_s=10.0)
        rabbit_server.close_connection(publisher.connection_name)
        wait_for(lambda: publisher.connections == 2, "the publisher to reconnect", timeout_s=10.0)
        after = len(confirmed)
        wait_for(lambda: len(confirmed) >= after + 20, "jobs confirmed after it", timeout_s=10.0)
    finally:
        stop.set()
        thread.join(30)
    consumed = drain_job_ids(rabbit_kit.source())
    assert set(confirmed) <= set(consumed)


def test_a_consumer_whose_connection_the_server_closes_gets_every_job(rabbit_kit, rabbit_server):
    publisher = rabbit_kit.publisher()
    for n in range(30):
        publisher.publish(rabbit_kit.job(n))
    source = rabbit_kit.source()
    first_ten = drain_first(source, 10)
    interrupted = source.next_delivery(5)
    rabbit_server.close_connection(source.connection_name)
    interrupted.ack()
    again = source.next_delivery(5)
    assert again.body == interrupted.body
    assert again.redelivered is True
    again.ack()
    rest = drain_job_ids(source)
    assert source.connections == 2
    assert sorted([*first_ten, "job-10", *rest]) == sorted(f"job-{n}" for n in range(30))


def test_a_dead_letter_after_the_server_closed_the_connection_waits_for_redelivery(
        rabbit_kit, rabbit_server):
    rabbit_kit.publisher().publish(rabbit_kit.job(1))
    source = rabbit_kit.source()
    stale = source.next_delivery(5)
    rabbit_server.close_connection(source.connection_name)
    stale.dead_letter("corrupt image")
    again = source.next_delivery(5)
    assert again.redelivered is True
    again.dead_letter("corrupt image")
    dead_letters = rabbit_kit.source(rabbit_kit.settings.dead_letter_queue)
    assert dead_letters.next_delivery(5).reason == "corrupt image"
    assert dead_letters.next_delivery(0.3) is None


def drain_first(source, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        delivery = source.next_delivery(5)
        ids.append(JobMessage.decode(delivery.body).job_id)
        delivery.ack()
    return ids


def result_of(n: int) -> ResultMessage:
    return ResultMessage(job_id=f"job-{n}", worker="w", submitted_at=1.0, started_at=2.0,
                         finished_at=3.0, status="done")


def take_until(feed, taken: list[str], count: int, what: str) -> None:
    """Poll ``feed`` into ``taken`` until it holds ``count`` job ids."""
    def enough() -> bool:
        taken.extend(r.job_id for r in feed.poll_results(0.5))
        return len(taken) >= count
    wait_for(enough, what, timeout_s=15.0)


def test_a_durable_feed_whose_connection_the_server_closes_misses_and_repeats_nothing(
        rabbit_kit, rabbit_server):
    feed = rabbit_kit.feed(durable=True)
    sink = rabbit_kit.sink()
    for n in range(5):
        sink.publish_result(result_of(n))
    taken: list[str] = []
    take_until(feed, taken, 5, "the first results")
    rabbit_server.close_connection(feed.connection_name)
    for n in range(5, 10):
        sink.publish_result(result_of(n))
    take_until(feed, taken, 10, "the results published while it was cut off")
    taken.extend(r.job_id for r in feed.poll_results(0.5))
    assert feed.connections == 2
    assert taken == [f"job-{n}" for n in range(10)], "each result once, in order"


def test_a_durable_feed_cut_off_before_it_took_anything_misses_nothing(rabbit_kit, rabbit_server):
    sink = rabbit_kit.sink()
    sink.publish_result(result_of(0))  # from before the feed: not its to see
    feed = rabbit_kit.feed(durable=True)
    feed.poll_results(0.2)  # subscribed, nothing taken
    rabbit_server.close_connection(feed.connection_name)
    for n in range(1, 4):
        sink.publish_result(result_of(n))
    taken: list[str] = []
    take_until(feed, taken, 3, "the results published while it was cut off")
    taken.extend(r.job_id for r in feed.poll_results(0.5))
    assert taken == ["job-1", "job-2", "job-3"]
