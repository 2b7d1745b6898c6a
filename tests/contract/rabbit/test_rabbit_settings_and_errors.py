"""Broker settings, the safe form of the URL, and pika's errors in imgproc's terms."""

from __future__ import annotations

import logging
import socket

import pika.exceptions as pex
import pytest

from imgproc.adapters.rabbit import (
    BrokerRejected,
    BrokerUnavailable,
    RabbitSettings,
    redacted,
)
from imgproc.adapters.rabbit.connection import RabbitLink
from imgproc.adapters.rabbit.errors import is_retryable


def a_closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_redacted_hides_the_password_and_keeps_the_rest():
    assert redacted("amqp://guest:s3cret@rabbit.local:5672/%2F") == \
        "amqp://guest:***@rabbit.local:5672/%2F"


def test_redacted_leaves_a_url_without_a_password_unchanged():
    assert redacted("amqp://rabbit.local/%2F") == "amqp://rabbit.local/%2F"


def test_isolated_settings_prefix_every_queue_and_the_exchange():
    s = RabbitSettings().isolated("t-1.")
    assert (s.jobs_queue, s.dead_letter_queue, s.results_exchange, s.deployer_queue,
            s.callback_queue) == ("t-1.upload-picture", "t-1.upload-picture.dead",
                                  "t-1.imgproc.results", "t-1.deployer", "t-1.deployer_callback")


def test_with_vhost_changes_only_the_path_of_the_url():
    assert RabbitSettings().with_vhost("run-7").url == "amqp://guest:guest@127.0.0.1:5672/run-7"


@pytest.mark.parametrize(("exc", "retryable"), [
    (pex.ConnectionClosedByBroker(320, "CONNECTION_FORCED"), True),
    (pex.StreamLostError("EOF"), True),
    (pex.AMQPConnectionError("refused"), True),
    (pex.NackError([]), True),
    (ConnectionResetError(), True),
    (pex.ProbableAuthenticationError("403"), False),
    (pex.ConnectionClosedByBroker(403, "ACCESS_REFUSED"), False),
    (pex.ChannelClosedByBroker(406, "PRECONDITION_FAILED"), False),
    (pex.ChannelClosedByBroker(404, "NOT_FOUND - no queue 'upload-picture' in vhost '/'"),
     False),
    (pex.ConnectionClosedByBroker(404, "NOT_FOUND - home node 'rabbit@localhost' of durable "
                                       "queue 'imgproc.results.log' in vhost '/' is down or "
                                       "inaccessible"), True),
    (pex.UnroutableError([]), True),
    (pex.IncompatibleProtocolError("StreamLostError: ('Transport indicated EOF',)"), True),
    (pex.IncompatibleProtocolError("HTTP/1.1 400 Bad Request"), False),
], ids=lambda v: f"{type(v).__name__}-{str(v)[:12]}" if isinstance(v, Exception) else str(v))
def test_connection_losses_are_retryable_and_refusals_are_not(exc, retryable):
    assert is_retryable(exc) is retryable


def test_an_unreachable_broker_is_unavailable_after_the_configured_tries(caplog):
    settings = RabbitSettings(url=f"amqp://guest:s3cret@127.0.0.1:{a_closed_port()}/%2F",
                              connect_attempts=3, backoff_s=0.5)
    waits: list[float] = []
    link = RabbitLink(settings, "test", sleep=waits.append)
    with caplog.at_level(logging.DEBUG), pytest.raises(BrokerUnavailable) as caught:
        link.run("counting jobs", lambda ch: None)
    assert waits == [0.5, 1.0]
    assert "counting jobs on amqp://guest:***@127.0.0.1" in str(caught.value)
    assert isinstance(caught.value.__cause__, pex.AMQPConnectionError)
    assert "s3cret" not in str(caught.value) + caplog.text


def test_a_wrong_password_is_rejected_at_once_without_showing_it(rabbit_session_settings):
    url = rabbit_session_settings.url.replace("guest:guest", "guest:wr0ng")
    waits: list[float] = []
    link = RabbitLink(rabbit_session_settings.model_copy(update={"url": url}), "test",
                      sleep=waits.append)
    with pytest.raises(BrokerRejected) as caught:
        link.run("declaring the topology", lambda ch: None)
    assert waits == []
    assert "wr0ng" not in str(caught.value)


def test_several_broker_urls_are_tried_in_order_and_each_shown_without_its_password(
        rabbit_session_settings):
    live = rabbit_session_settings.urls[0]
    dead = f"amqp://guest:s3cret@127.0.0.1:{a_closed_port()}/%2F"
    settings = rabbit_session_settings.model_copy(update={"url": f"{dead}, {live}"})
    assert settings.urls == [dead, live]
    assert "s3cret" not in settings.safe_url and settings.safe_url.count("***") == 2
    link = RabbitLink(settings, "test", declare=False)
    try:
        assert link.run("connecting", lambda ch: ch.is_open) is True
    finally:
        link.close()


def test_a_link_retrying_for_ever_stops_soon_once_asked_to():
    import threading
    import time

    settings = RabbitSettings(url=f"amqp://guest:s3cret@127.0.0.1:{a_closed_port()}/%2F",
                              connect_attempts=None, backoff_s=0.1, max_backoff_s=0.5)
    stop = threading.Event()
    link = RabbitLink(settings, "test", stop=stop)
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        link.run("counting jobs", lambda ch: None)
    assert 1.0 <= time.monotonic() - started < 5.0
