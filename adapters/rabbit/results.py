"""Job results on RabbitMQ: published once to a fanout exchange, received by every feed.

A :class:`RabbitResultFeed` binds its own queue to the exchange. By default the
queue is exclusive and auto-deleted: a watcher (the console, the scaler) sees
results from the moment it is made, and misses those sent while it was away
(also across a reconnect). With ``durable=True`` and a ``queue_name`` the queue (a
quorum queue, so it outlives a cluster node too) outlives the feed, so a replay that
must count every result misses none; it calls :meth:`RabbitResultFeed.delete` when
done. A result that does not decode is logged and dropped: results are reports, the
jobs queue holds the work.

Every result can be found by its job id, whoever listened: the kept-results queue
(a bounded quorum queue: ``rabbit.kept_results_ttl_s``, ``rabbit.kept_results_max``) is
bound to the exchange for good, and :class:`RabbitResultLookup` reads it without taking
anything. Results are published ``mandatory``: one that no queue took is an error, never a
confirm.
"""

from __future__ import annotations

import logging
import threading

from pika.adapters.blocking_connection import BlockingChannel

from imgproc.adapters.rabbit.connection import RabbitLink, enable_confirms
from imgproc.adapters.rabbit.consumer import QueueConsumer
from imgproc.adapters.rabbit.peek import QueuePeek
from imgproc.adapters.rabbit.settings import RabbitSettings
from imgproc.adapters.rabbit.topology import QUORUM, declare_queue
from imgproc.core.messages import BadMessage, ResultMessage
from imgproc.core.results import take_results

log = logging.getLogger(__name__)


class RabbitResultSink:
    """Publishes results, persistent and confirmed (a :class:`~imgproc.core.ports.ResultSink`)."""

    def __init__(self, settings: RabbitSettings, stop: threading.Event | None = None) -> None:
        self._exchange = settings.results_exchange
        self._link = RabbitLink(settings, "result-sink", [enable_confirms], stop=stop)
        self._link.run("declaring the topology", lambda _ch: None)

    def publish_result(self, result: ResultMessage) -> None:
        self._link.publish(f"publishing the result of job {result.job_id}", self._exchange, "",
                           result.encode(), message_id=result.job_id, mandatory=True)

    def keep_alive(self) -> None:
        self._link.keep_alive("keeping the result connection alive during a job")

    def close(self) -> None:
        self._link.close()


class RabbitResultFeed:
    """Results published since its queue was bound (a :class:`~imgproc.core.ports.ResultFeed`)."""

    def __init__(self, settings: RabbitSettings, queue_name: str | None = None,
                 durable: bool = False, stop: threading.Event | None = None) -> None:
        if durable and not queue_name:
            raise ValueError("a durable result feed needs a queue_name to come back to")
        self._exchange = settings.results_exchange
        self._settings = settings
        self._durable = durable
        self._requested = queue_name or ""
        self._queue = self._requested
        self._link = RabbitLink(settings, "result-feed", [self._bind], stop=stop)
        self._consumer = QueueConsumer(self._link, lambda: self._queue, settings.feed_prefetch)
        self._link.run("binding a result feed", lambda _ch: None)

    @property
    def queue_name(self) -> str:
        return self._queue

    def poll_results(self, timeout_s: float) -> list[ResultMessage]:
        return take_results(self._consumer.next, timeout_s, self._queue)

    def delete(self) -> None:
        """Remove this feed's queue from the broker, then close."""
        self._link.run(f"deleting result queue {self._queue}",
                       lambda ch: ch.queue_delete(self._queue))
        self.close()

    def close(self) -> None:
        self._link.close()

    def _bind(self, channel: BlockingChannel) -> None:
        if self._durable:
            declare_queue(channel.connection, self._settings, self._queue, QUORUM)
        else:
            declared = channel.queue_declare(self._requested, exclusive=True, auto_delete=True)
            self._queue = declared.method.queue
        channel.queue_bind(self._queue, self._exchange)


class RabbitResultLookup:
    """Finds kept results by job id, leaving them in place."""

    def __init__(self, settings: RabbitSettings) -> None:
        self._peek = QueuePeek(settings, settings.kept_results_queue, "result-lookup")
        self._limit = settings.kept_results_max

    def find(self, job_id: str) -> list[ResultMessage]:
        """Every kept result of ``job_id`` (a job done twice has two), oldest first."""
        found = []
        for message in self._peek.matching(lambda m: m.message_id == job_id, self._limit):
            try:
                found.append(ResultMessage.decode(message.body))
            except BadMessage as exc:
                log.warning("an unreadable result of job %s: %s", job_id, exc)
        return found

    def close(self) -> None:
        self._peek.close()
