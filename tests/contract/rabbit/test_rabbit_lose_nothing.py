"""What the broker must never lose: a job whose worker dies every time is dead-lettered
with its reason after the delivery limit, a result nothing listened for can be found by
its job id, and a jobs queue declared by an older imgproc is moved with all its jobs."""

from __future__ import annotations

import threading

import pika
import pytest
from conftest import rabbitmqctl

from imgproc.adapters.rabbit import RabbitJobPublisher, RabbitJobSource, RabbitResultSink
from imgproc.adapters.rabbit.connection import RabbitLink
from imgproc.adapters.rabbit.errors import BrokerRejected
from imgproc.adapters.rabbit.topology import QueueInUse
from imgproc.core.messages import ResultMessage


def a_result(job_id: str) -> ResultMessage:
    return ResultMessage(job_id=job_id, worker="w1", submitted_at=1.0, started_at=2.0,
                         finished_at=3.0, status="done")


def test_a_job_whose_consumer_dies_every_time_is_dead_lettered_after_the_limit(broker_kit):
    broker_kit.publisher().publish(broker_kit.job(1))
    limit = broker_kit.settings.delivery_limit
    for _ in range(limit + 1):
        source = broker_kit.source()
        delivery = source.next_delivery(5.0)
        assert delivery is not None and delivery.message_id == "job-1"
        source.close()  # the worker died holding it
    assert broker_kit.source().next_delivery(0.5) is None
    dead = broker_kit.source(broker_kit.settings.dead_letter_queue).next_delivery(5.0)
    assert dead is not None and dead.message_id == "job-1"
    assert dead.reason is not None
    assert "delivery limit" in dead.reason and f"{limit + 1} times" in dead.reason


def test_a_job_under_the_limit_is_still_handed_out(broker_kit):
    broker_kit.publisher().publish(broker_kit.job(1))
    for _ in range(broker_kit.settings.delivery_limit):
        source = broker_kit.source()
        assert source.next_delivery(5.0) is not None
        source.close()
    last = broker_kit.source().next_delivery(5.0)
    assert last is not None and last.redelivered and last.message_id == "job-1"


def test_a_result_published_with_nothing_listening_is_found_by_its_job_id(broker_kit):
    broker_kit.sink().publish_result(a_result("job-7"))
    broker_kit.sink().publish_result(a_result("job-8"))
    lookup = broker_kit.lookup()
    found = lookup.find("job-7")
    assert [r.job_id for r in found] == ["job-7"]
    assert [r.job_id for r in lookup.find("job-7")] == ["job-7"], "finding takes nothing away"


def test_a_result_is_kept_and_found_by_its_job_id_even_while_a_feed_listens(broker_kit):
    feed = broker_kit.feed()
    broker_kit.sink().publish_result(a_result("job-9"))
    assert [r.job_id for r in feed.poll_results(5.0)] == ["job-9"]
    assert [r.job_id for r in broker_kit.lookup().find("job-9")] == ["job-9"]


def test_only_the_newest_kept_results_stay(broker_kit):
    broker_kit.settings = broker_kit.settings.model_copy(
        update={"kept_results_max_bytes": 4096})
    if broker_kit.name == "memory":
        broker_kit.broker.settings = broker_kit.settings
    sink = broker_kit.sink()
    for n in range(40):
        sink.publish_result(a_result(f"job-{n}"))
    lookup = broker_kit.lookup()
    kept = [n for n in range(40) if lookup.find(f"job-{n}")]
    assert kept[-1] == 39, "the newest result is kept"
    assert kept[0] > 0, "the oldest went"
    assert kept == list(range(kept[0], 40)), "what is kept is the newest, with no gap"


def declare_classic_jobs_queue(settings, jobs: int, queue: str | None = None) -> None:
    queue = queue or settings.jobs_queue
    link = RabbitLink(settings, "old-imgproc", declare=False)
    try:
        link.run("declaring a classic queue", lambda ch: ch.queue_declare(queue, durable=True))
        for n in range(jobs):
            link.run("publishing", lambda ch, n=n: ch.basic_publish(
                "", queue, f"job {n}".encode(),
                pika.BasicProperties(delivery_mode=2, message_id=f"old-{n}")))
    finally:
        link.close()


def queue_types(settings) -> dict[str, str]:
    vhost = settings.urls[0].rsplit("/", 1)[1]
    out = rabbitmqctl("--no-table-headers", "list_queues", "-p", vhost, "name", "type")
    return dict(line.split("\t")[:2] for line in out.splitlines() if "\t" in line)


def test_a_classic_jobs_queue_is_moved_to_a_quorum_queue_with_every_job(rabbit_kit):
    settings = rabbit_kit.settings
    declare_classic_jobs_queue(settings, jobs=5)
    rabbit_kit.keep(RabbitJobPublisher(settings))
    assert queue_types(settings)[settings.jobs_queue] == "quorum"
    assert f"{settings.jobs_queue}.migrating" not in queue_types(settings)
    source = rabbit_kit.source()
    taken = []
    for _ in range(5):
        delivery = source.next_delivery(5.0)
        assert delivery is not None
        taken.append(delivery.message_id)
        delivery.ack()
    assert sorted(taken) == [f"old-{n}" for n in range(5)]


def test_a_classic_jobs_queue_with_consumers_is_refused_naming_the_command(rabbit_kit):
    settings = rabbit_kit.settings
    declare_classic_jobs_queue(settings, jobs=2)
    old_worker = RabbitLink(settings, "old-worker", declare=False)
    old_worker.run("consuming", lambda ch: ch.basic_consume(settings.jobs_queue,
                                                            lambda *a: None))
    try:
        with pytest.raises(QueueInUse, match="imgproc broker migrate"):
            RabbitJobSource(settings)
    finally:
        old_worker.close()
    rabbit_kit.keep(RabbitJobSource(settings))
    assert rabbit_kit.ready() == 2, "refusing moved nothing and lost nothing"


def test_jobs_left_by_an_interrupted_move_go_back_to_the_jobs_queue(rabbit_kit):
    settings = rabbit_kit.settings
    temporary = f"{settings.jobs_queue}.migrating"
    link = RabbitLink(settings, "interrupted-move", declare=False)
    try:
        link.run("declaring", lambda ch: ch.queue_declare(temporary, durable=True))
        link.run("publishing", lambda ch: ch.basic_publish(
            "", temporary, b"{}", pika.BasicProperties(delivery_mode=2, message_id="left")))
    finally:
        link.close()
    rabbit_kit.keep(RabbitResultSink(settings))
    assert rabbit_kit.ready() == 1
    assert temporary not in queue_types(settings)


def test_a_quorum_jobs_queue_with_another_delivery_limit_is_moved_with_every_job(rabbit_kit):
    settings = rabbit_kit.settings
    publisher = RabbitJobPublisher(settings)
    for n in range(3):
        publisher.publish(rabbit_kit.job(n))
    publisher.close()
    lower = settings.model_copy(update={"delivery_limit": 1})
    source = rabbit_kit.keep(RabbitJobSource(lower))
    taken = []
    for _ in range(3):
        delivery = source.next_delivery(5.0)
        assert delivery is not None
        taken.append(delivery.message_id)
        delivery.ack()
    assert sorted(taken) == ["job-0", "job-1", "job-2"]
    assert queue_types(settings)[settings.jobs_queue] == "quorum"


@pytest.mark.parametrize("field", ["dead_letter_queue", "deployer_queue", "callback_queue"])
def test_every_other_classic_queue_is_moved_to_a_quorum_queue_with_its_messages(rabbit_kit,
                                                                                field):
    settings = rabbit_kit.settings
    queue = getattr(settings, field)
    declare_classic_jobs_queue(settings, jobs=3, queue=queue)
    rabbit_kit.keep(RabbitResultSink(settings))
    assert queue_types(settings)[queue] == "quorum"
    assert rabbit_kit.ready(queue) == 3


def test_a_kept_results_queue_of_another_kind_is_refused_with_what_to_do(rabbit_kit):
    settings = rabbit_kit.settings
    declare_classic_jobs_queue(settings, jobs=2, queue=settings.kept_results_queue)
    with pytest.raises(BrokerRejected) as refused:
        RabbitResultSink(settings)
    assert f"rabbitmqctl delete_queue {settings.kept_results_queue}" in str(refused.value)
    assert queue_types(settings)[settings.kept_results_queue] == "classic"
    link = rabbit_kit.keep(RabbitLink(settings, "counting", declare=False))
    left = link.run("counting", lambda ch: ch.queue_declare(settings.kept_results_queue,
                                                            passive=True).method.message_count)
    assert left == 2, "its messages are untouched"


def test_a_kept_results_stream_with_other_retention_keeps_it_and_nothing_stops(rabbit_kit):
    settings = rabbit_kit.settings
    sink = rabbit_kit.sink()
    sink.publish_result(a_result("before"))
    other = settings.model_copy(update={"kept_results_ttl_s": 3600.0,
                                        "kept_results_max_bytes": 2**20})
    other_sink = rabbit_kit.keep(RabbitResultSink(other))
    other_sink.publish_result(a_result("after"))
    lookup = rabbit_kit.lookup()
    assert [r.job_id for r in lookup.find("before") + lookup.find("after")] == ["before", "after"]
    assert queue_types(settings)[settings.kept_results_queue] == "stream"


def test_two_processes_moving_one_queue_at_once_lose_and_double_nothing(rabbit_kit):
    settings = rabbit_kit.settings
    declare_classic_jobs_queue(settings, jobs=300)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def connect() -> None:
        start.wait()
        try:
            RabbitJobPublisher(settings, role="mover").close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    movers = [threading.Thread(target=connect) for _ in range(2)]
    for mover in movers:
        mover.start()
    for mover in movers:
        mover.join(120)
    assert errors == []
    types = queue_types(settings)
    assert types[settings.jobs_queue] == "quorum"
    assert not [q for q in types if q.endswith((".migrating", ".migration-lock"))], types
    source = rabbit_kit.source()
    taken = []
    while (delivery := source.next_delivery(2.0)) is not None:
        taken.append(delivery.message_id)
        delivery.ack()
    assert sorted(taken) == sorted(f"old-{n}" for n in range(300))
