"""Job results on RabbitMQ: published once to a fanout exchange, and kept in a stream.

Every result goes to the kept results stream (``rabbit.kept_results_queue``, bound to the
exchange for good, bounded by ``rabbit.kept_results_ttl_s`` and
``rabbit.kept_results_max_bytes``), and is found there by its job id
(:class:`RabbitResultLookup`) whoever listened. Results are published ``mandatory``: one
that no queue took is never confirmed, but published again, then an error
(``imgproc.adapters.rabbit.errors``).

A :class:`RabbitResultFeed` receives them in one of two ways. By default it binds an
exclusive, auto-deleted queue of its own: a watcher (the console, the scaler) sees results
from the moment it is made, and misses those sent while its connection was down. With
``durable=True`` it reads the kept results stream instead, from where the stream ended when
the feed was made; after a lost connection it resumes after the last result it handed out,
so a replay that must count every result misses none, and nothing of it is left to delete.
One copy of each result is stored, not one per listener (a stream append with a reader
cost the broker about half of two quorum queues with one, docs/benchmarks.md). A result
that does not decode is logged and dropped: results are reports, the jobs queue holds the
work.
"""

from __future__ import annotations

import logging
import threading
import time

from pika.adapters.blocking_connection import BlockingChannel

from imgproc.adapters.rabbit.connection import LinkedClient, RabbitLink, enable_confirms
from imgproc.adapters.rabbit.consumer import QueueConsumer, RabbitDelivery
from imgproc.adapters.rabbit.settings import RabbitSettings
from imgproc.adapters.rabbit.stream import (
    OFFSET_HEADER,
    offset_of,
    quiet_stream_rejects,
    read_stream,
    stream_tail,
)
from imgproc.core.messages import BadMessage, ResultMessage
from imgproc.core.results import take_results

log = logging.getLogger(__name__)
REPLY_ATTEMPTS = 3


class RabbitResultSink:
    """Publishes results, persistent and confirmed (a :class:`~imgproc.core.ports.ResultSink`)."""

    def __init__(self, settings: RabbitSettings, stop: threading.Event | None = None) -> None:
        self._exchange = settings.results_exchange
        self._link = RabbitLink(settings, "result-sink", [enable_confirms], stop=stop)
        self._link.run("declaring the topology", lambda _ch: None)

    def publish_result(self, result: ResultMessage) -> None:
        self._link.publish(f"publishing the result of job {result.job_id}", self._exchange, "",
                           result.encode(), message_id=result.job_id, mandatory=True)

    def reply(self, queue: str, result: ResultMessage) -> None:
        """Through the default exchange, not ``mandatory``: a reply queue whose client has
        gone (deleted when it expired) drops the reply, and the kept result remains. Tried
        :data:`REPLY_ATTEMPTS` times, not for ever: a reply queue that refuses it (full,
        say) must not hold up the worker."""
        self._link.publish(f"replying the result of job {result.job_id} to {queue}", "", queue,
                           result.encode(), message_id=result.job_id, mandatory=False,
                           attempts=REPLY_ATTEMPTS)

    def keep_alive(self) -> None:
        self._link.keep_alive("keeping the result connection alive during a job")

    def close(self) -> None:
        self._link.close()


class RabbitResultFeed(LinkedClient):
    """Results published since the feed was made (a :class:`~imgproc.core.ports.ResultFeed`);
    see the module's docstring for ``durable``."""

    def __init__(self, settings: RabbitSettings, durable: bool = False,
                 stop: threading.Event | None = None) -> None:
        self._exchange = settings.results_exchange
        self._durable = durable
        self._queue = settings.kept_results_queue if durable else ""
        self._after: int | None = None  # the offset last handed out (durable)
        self._link = RabbitLink(settings, "result-feed", [self._bind], stop=stop)
        arguments = self._stream_offset if durable else None
        self._consumer = QueueConsumer(self._link, lambda: self._queue, settings.feed_prefetch,
                                       arguments=arguments)
        if durable:
            self._after = self._link.run(f"finding where {self._queue} ends", lambda _ch: (
                stream_tail(lambda: self._link.new_connection("tail"), self._queue)))
        else:
            self._link.run("binding a result feed", lambda _ch: None)

    @property
    def queue_name(self) -> str:
        return self._queue

    def poll_results(self, timeout_s: float) -> list[ResultMessage]:
        next_delivery = self._next_new if self._durable else self._consumer.next
        return take_results(next_delivery, timeout_s, self._queue)

    def close(self) -> None:
        with quiet_stream_rejects():  # what was on its way from the stream is rejected
            self._link.close()

    def _bind(self, channel: BlockingChannel) -> None:
        if not self._durable:
            self._queue = channel.queue_declare("", exclusive=True,
                                                auto_delete=True).method.queue
            channel.queue_bind(self._queue, self._exchange)

    def _stream_offset(self) -> dict[str, object]:
        return {OFFSET_HEADER: "first" if self._after is None else self._after + 1}

    def _next_new(self, timeout_s: float) -> RabbitDelivery | None:
        """The next delivery from the stream not handed out before (a resumed read may
        repeat the last chunk)."""
        deadline = time.monotonic() + timeout_s
        while (delivery := self._consumer.next(max(0.0, deadline - time.monotonic()))):
            offset = offset_of(delivery.headers)
            if offset is None or self._after is None or offset > self._after:
                self._after = offset if offset is not None else self._after
                return delivery
            delivery.ack()
        return None


class RabbitResultLookup:
    """Finds kept results by job id, leaving them in place."""

    def __init__(self, settings: RabbitSettings) -> None:
        self._queue = settings.kept_results_queue
        self._link = RabbitLink(settings, "result-lookup")

    def find(self, job_id: str) -> list[ResultMessage]:
        """Every kept result of ``job_id`` (a job done twice has two), oldest first."""
        def matching(_channel: BlockingChannel) -> list[bytes]:
            messages = read_stream(lambda: self._link.new_connection("read"), self._queue)
            return [body for props, body in messages if props.message_id == job_id]

        bodies = self._link.run(f"reading {self._queue}", matching)
        found = []
        for body in bodies:
            try:
                found.append(ResultMessage.decode(body))
            except BadMessage as exc:
                log.warning("an unreadable result of job %s: %s", job_id, exc)
        return found

    def close(self) -> None:
        self._link.close()
