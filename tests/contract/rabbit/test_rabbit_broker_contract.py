"""The jobs queue's contract, checked on the in-memory broker and on RabbitMQ alike."""

from __future__ import annotations

import pytest
from polling import wait_for

from imgproc.adapters.rabbit import AlreadySettled, BrokerRejected
from imgproc.core.messages import BadMessage, JobMessage

QUIET_S = 0.3


def test_a_published_job_is_consumed_unchanged(broker_kit):
    job = broker_kit.job(1)
    broker_kit.publisher().publish(job)
    delivery = broker_kit.source().next_delivery(5)
    assert JobMessage.decode(delivery.body) == job
    assert delivery.redelivered is False
    delivery.ack()


def test_next_delivery_returns_none_when_no_job_arrives_in_time(broker_kit):
    assert broker_kit.source().next_delivery(0.1) is None


def test_a_consumer_gets_no_second_job_before_it_settles_the_first(broker_kit):
    publisher, source = broker_kit.publisher(), broker_kit.source()
    publisher.publish(broker_kit.job(1))
    publisher.publish(broker_kit.job(2))
    first = source.next_delivery(5)
    assert source.next_delivery(QUIET_S) is None
    first.ack()
    second = source.next_delivery(5)
    assert JobMessage.decode(second.body).job_id == "job-2"
    second.ack()


def test_a_job_held_by_one_consumer_goes_to_another_meanwhile(broker_kit):
    publisher = broker_kit.publisher()
    publisher.publish(broker_kit.job(1))
    publisher.publish(broker_kit.job(2))
    held = broker_kit.source().next_delivery(5)
    other = broker_kit.source().next_delivery(5)
    assert {JobMessage.decode(d.body).job_id for d in (held, other)} == {"job-1", "job-2"}


def test_ready_counts_waiting_jobs_but_not_the_one_in_flight(broker_kit):
    publisher = broker_kit.publisher()
    for n in range(3):
        publisher.publish(broker_kit.job(n))
    wait_for(lambda: broker_kit.ready() == 3, "three ready jobs", timeout_s=10.0)
    broker_kit.source().next_delivery(5)
    wait_for(lambda: broker_kit.ready() == 2, "two ready jobs, one in flight", timeout_s=10.0)


def test_after_an_ack_the_next_job_is_already_on_its_way_to_the_consumer(broker_kit):
    publisher = broker_kit.publisher()
    for n in range(3):
        publisher.publish(broker_kit.job(n))
    source = broker_kit.source()
    source.next_delivery(5).ack()
    wait_for(lambda: broker_kit.ready() == 1, "one ready job, one pushed", timeout_s=10.0)
    source.close()
    wait_for(lambda: broker_kit.ready() == 2, "the pushed job back in the queue", timeout_s=10.0)


def test_an_unacked_job_is_redelivered_flagged_after_its_consumer_closes(broker_kit):
    broker_kit.publisher().publish(broker_kit.job(1))
    source = broker_kit.source()
    source.next_delivery(5)
    source.close()
    again = broker_kit.source().next_delivery(5)
    assert JobMessage.decode(again.body).job_id == "job-1"
    assert again.redelivered is True


def test_an_acked_job_is_never_delivered_again(broker_kit):
    broker_kit.publisher().publish(broker_kit.job(1))
    source = broker_kit.source()
    source.next_delivery(5).ack()
    source.close()
    assert broker_kit.source().next_delivery(QUIET_S) is None
    assert broker_kit.ready() == 0


def test_acking_after_the_consumer_closed_does_nothing_and_the_job_comes_back(broker_kit):
    broker_kit.publisher().publish(broker_kit.job(1))
    source = broker_kit.source()
    delivery = source.next_delivery(5)
    source.close()
    delivery.ack()
    again = broker_kit.source().next_delivery(5)
    assert again.redelivered is True


def test_settling_a_delivery_twice_is_refused(broker_kit):
    broker_kit.publisher().publish(broker_kit.job(1))
    delivery = broker_kit.source().next_delivery(5)
    delivery.ack()
    with pytest.raises(AlreadySettled):
        delivery.dead_letter("too late")


def test_a_dead_lettered_job_moves_to_the_dead_letter_queue_with_its_reason(broker_kit):
    broker_kit.publisher().publish(broker_kit.job(1))
    source = broker_kit.source()
    source.next_delivery(5).dead_letter("input image is not a PNG")
    source.close()
    assert broker_kit.source().next_delivery(QUIET_S) is None
    dead = broker_kit.source(broker_kit.settings.dead_letter_queue).next_delivery(5)
    assert dead.reason == "input image is not a PNG"
    assert JobMessage.decode(dead.body).job_id == "job-1"


def test_a_body_that_is_no_job_can_be_dead_lettered_by_its_consumer(broker_kit):
    broker_kit.publisher().publish_body(b'{"v": 1, "job_id": ""}', "bad-1")
    delivery = broker_kit.source().next_delivery(5)
    with pytest.raises(BadMessage) as caught:
        JobMessage.decode(delivery.body)
    delivery.dead_letter(str(caught.value))
    dead = broker_kit.source(broker_kit.settings.dead_letter_queue).next_delivery(5)
    assert dead.body == b'{"v": 1, "job_id": ""}'
    assert dead.reason.startswith("invalid JobMessage message: job_id")
    assert broker_kit.ready() == 0


def test_a_closed_source_refuses_to_hand_out_jobs(broker_kit):
    source = broker_kit.source()
    source.close()
    with pytest.raises(BrokerRejected, match="closed"):
        source.next_delivery(0.1)


def test_a_closed_publisher_refuses_to_publish(broker_kit):
    publisher = broker_kit.publisher()
    publisher.close()
    with pytest.raises(BrokerRejected, match="closed"):
        publisher.publish(broker_kit.job(1))
