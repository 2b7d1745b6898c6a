"""An in-memory message broker that behaves like the RabbitMQ adapters, for tests and demos.

One :class:`MemoryBroker` holds the queues; its views implement the same ports
as :mod:`imgproc.adapters.rabbit` with the same behaviour, checked by the same
contract tests: persistent queues, prefetch 1 with manual ack, unsettled
deliveries put back (``redelivered=True``) when their consumer closes, a
dead-letter queue whose messages carry their ``reason``, results fanned out to
every feed (exclusive feeds vanish on close, durable ones stay until deleted),
and a settle on a closed consumer's delivery that only logs. Thread-safe: one
condition guards everything, so waits are real waits, with no polling.
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field

from imgproc.adapters.memory.broker_views import (
    MemoryCommandBus,
    MemoryJobPublisher,
    MemoryJobSource,
    MemoryReadyCount,
    MemoryReplyInbox,
    MemoryResultFeed,
    MemoryResultLookup,
    MemoryResultSink,
)
from imgproc.adapters.rabbit.consumer import (
    MAX_REASON_CHARS,
    REASON_HEADER,
    SOURCE_HEADER,
    delivery_limit_reason,
)
from imgproc.adapters.rabbit.errors import AlreadySettled, BrokerRejected
from imgproc.adapters.rabbit.settings import RabbitSettings

log = logging.getLogger(__name__)

WHERE = "memory://broker"


@dataclass
class _Message:
    body: bytes
    message_id: str | None
    headers: dict[str, object]
    redelivered: bool = False
    deliveries: int = 0


class MemoryBroker:
    """Queues and a fanout results exchange in memory; make ports with its view methods."""

    def __init__(self, settings: RabbitSettings | None = None) -> None:
        self.settings = settings or RabbitSettings()
        s = self.settings
        self._cond = threading.Condition()
        self._queues: dict[str, deque[_Message]] = {
            q: deque() for q in (s.jobs_queue, s.dead_letter_queue, s.deployer_queue,
                                 s.callback_queue, s.kept_results_queue)}
        self._bound: set[str] = set()
        self._kept_bytes = 0
        self._consumers: dict[str, list[MemoryConsumer]] = {}

    def job_publisher(self) -> MemoryJobPublisher:
        return MemoryJobPublisher(self)

    def job_source(self, queue: str | None = None) -> MemoryJobSource:
        """Jobs one at a time; ``queue=settings.dead_letter_queue`` reads the dead letters."""
        return MemoryJobSource(self, queue or self.settings.jobs_queue)

    def result_sink(self) -> MemoryResultSink:
        return MemoryResultSink(self)

    def result_feed(self, durable: bool = False) -> MemoryResultFeed:
        """Results published from now on; ``durable`` changes nothing here: a memory broker
        has no connection to lose (the RabbitMQ feed's durable kind reads the kept results
        so as to miss nothing across a reconnect)."""
        name = f"amq.gen-{uuid.uuid4().hex}"
        with self._cond:
            self._queues[name] = deque()
            self._bound.add(name)
        return MemoryResultFeed(self, name)

    def reply_inbox(self, client_id: str) -> MemoryReplyInbox:
        """A queue of the results replied to ``client_id``'s jobs."""
        name = self.settings.reply_queue_prefix + client_id
        with self._cond:
            self._queues.setdefault(name, deque())
        return MemoryReplyInbox(self, name)

    def ready_count(self, queue: str | None = None) -> MemoryReadyCount:
        return MemoryReadyCount(self, queue or self.settings.jobs_queue)

    def result_lookup(self) -> MemoryResultLookup:
        return MemoryResultLookup(self)

    def kept_results(self) -> list[bytes]:
        """Every result kept (the newest, up to ``kept_results_max_bytes``), left in place."""
        with self._cond:
            return [m.body for m in self._queues[self.settings.kept_results_queue]]

    def command_bus(self) -> MemoryCommandBus:
        return MemoryCommandBus(self)

    def publish(self, queue: str, body: bytes, message_id: str | None = None,
                headers: dict[str, object] | None = None) -> None:
        """Store ``body`` at the tail of ``queue`` (any bytes: tests inject malformed ones)."""
        with self._cond:
            self._queue(queue, f"publishing {message_id} to {queue}").append(
                _Message(body, message_id, dict(headers or {})))
            self.dispatch(queue)

    def publish_if_declared(self, queue: str, body: bytes, message_id: str) -> None:
        """Store ``body`` in ``queue`` if it exists, else drop it (the default exchange's
        way with a message that is not ``mandatory``)."""
        with self._cond:
            if queue in self._queues:
                self._queues[queue].append(_Message(body, message_id, {}))
                self.dispatch(queue)

    def fanout(self, body: bytes, message_id: str) -> None:
        """A copy of ``body`` to the kept results and to every feed's queue."""
        with self._cond:
            kept = self._queues[self.settings.kept_results_queue]
            kept.append(_Message(body, message_id, {}))
            self._kept_bytes += len(body)
            while self._kept_bytes > self.settings.kept_results_max_bytes:
                self._kept_bytes -= len(kept.popleft().body)
            for name in self._bound:
                self._queues[name].append(_Message(body, message_id, {}))
                self.dispatch(name)

    def ready(self, queue: str) -> int:
        with self._cond:
            return len(self._queue(queue, f"counting messages in {queue}"))

    def consumer(self, queue: str, prefetch: int) -> MemoryConsumer:
        """A consumer of ``queue`` holding at most ``prefetch`` unsettled deliveries."""
        return MemoryConsumer(self, queue, prefetch)

    def delete_queue(self, queue: str) -> None:
        with self._cond:
            self._queues.pop(queue, None)
            self._bound.discard(queue)
            self._consumers.pop(queue, None)
            self._cond.notify_all()

    def subscribe(self, consumer: MemoryConsumer, doing: str) -> None:
        """Start pushing ``consumer.queue``'s messages to ``consumer`` (under the lock)."""
        self._queue(consumer.queue, doing)
        self._consumers.setdefault(consumer.queue, []).append(consumer)
        self.dispatch(consumer.queue)

    def unsubscribe(self, consumer: MemoryConsumer, returned: list[_Message]) -> None:
        """Stop pushing to ``consumer``; its unsettled ``returned`` go back, redelivered."""
        subscribed = self._consumers.get(consumer.queue, [])
        if consumer in subscribed:
            subscribed.remove(consumer)
        queue = self._queues.get(consumer.queue)
        if queue is not None:
            for message in reversed(returned):
                if self._past_delivery_limit(consumer.queue, message):
                    self.dead_letter(consumer.queue, message,
                                      delivery_limit_reason(self.settings.delivery_limit))
                    continue
                message.redelivered = True
                queue.appendleft(message)
        self.dispatch(consumer.queue)

    def _past_delivery_limit(self, queue: str, message: _Message) -> bool:
        """The jobs queue, as the quorum queue does, gives a message up after its limit."""
        return queue == self.settings.jobs_queue and \
            message.deliveries > self.settings.delivery_limit

    def dead_letter(self, queue: str, message: _Message, reason: str) -> None:
        headers = {**message.headers, REASON_HEADER: reason, SOURCE_HEADER: queue}
        self.publish(self.settings.dead_letter_queue, message.body, message.message_id, headers)

    def dispatch(self, queue: str) -> None:
        """Push waiting messages, round robin, to the consumers with room (under the lock)."""
        messages = self._queues.get(queue)
        consumers = self._consumers.get(queue, [])
        while messages and any(c.room > 0 for c in consumers):
            consumer = next(c for c in consumers if c.room > 0)
            consumer.push(messages.popleft())
            consumers.append(consumers.pop(consumers.index(consumer)))
        self._cond.notify_all()

    def _queue(self, name: str, doing: str) -> deque[_Message]:
        try:
            return self._queues[name]
        except KeyError:
            raise BrokerRejected(doing, WHERE, f"no queue named {name}") from None


@dataclass(eq=False)
class MemoryDelivery:
    """One message handed out by a :class:`MemoryConsumer`, settled exactly once."""

    body: bytes
    redelivered: bool
    headers: dict[str, object]
    message_id: str | None
    _consumer: MemoryConsumer = field(repr=False)
    _tag: int = field(repr=False)
    _settled: bool = field(default=False, repr=False)

    @property
    def reason(self) -> str | None:
        """Why it was dead-lettered, for a message read from the dead-letter queue."""
        value = self.headers.get(REASON_HEADER)
        return value if isinstance(value, str) else None

    def ack(self) -> None:
        self._settle_once()
        self._consumer.settle(self._tag, None)

    def dead_letter(self, reason: str) -> None:
        self._settle_once()
        self._consumer.settle(self._tag, reason[:MAX_REASON_CHARS])

    def _settle_once(self) -> None:
        if self._settled:
            raise AlreadySettled(f"delivery {self.message_id or self._tag}")
        self._settled = True


class MemoryConsumer:
    """Takes from one queue of a :class:`MemoryBroker`, subscribing on first use.

    At most ``prefetch`` deliveries are unsettled. As RabbitMQ does, the broker
    pushes messages to a subscribed consumer with room even before it asks: they
    count as in flight, not ready.
    """

    def __init__(self, broker: MemoryBroker, queue: str, prefetch: int) -> None:
        self._broker = broker
        self._cond = broker._cond
        self.queue = queue
        self._prefetch = prefetch
        self._unacked: dict[int, _Message] = {}
        self._pushed: deque[int] = deque()
        self._tags = itertools.count(1)
        self._subscribed = False
        self._closed = False

    @property
    def room(self) -> int:
        return self._prefetch - len(self._unacked)

    def push(self, message: _Message) -> None:
        """Called by the broker, under its lock."""
        tag = next(self._tags)
        message.deliveries += 1
        self._unacked[tag] = message
        self._pushed.append(tag)

    def next(self, timeout_s: float) -> MemoryDelivery | None:
        doing = f"waiting on queue {self.queue}"
        with self._cond:
            if self._closed:
                raise BrokerRejected(doing, WHERE, "this consumer was closed")
            if not self._subscribed:
                self._subscribed = True
                self._broker.subscribe(self, doing)
            if not self._cond.wait_for(lambda: bool(self._pushed), max(timeout_s, 0)):
                self._broker._queue(self.queue, doing)
                return None
            tag = self._pushed.popleft()
            message = self._unacked[tag]
        return MemoryDelivery(message.body, message.redelivered, dict(message.headers),
                              message.message_id, self, tag)

    def settle(self, tag: int, dead_reason: str | None) -> None:
        """Forget delivery ``tag``; with a reason, move it to the dead-letter queue first."""
        with self._cond:
            message = self._unacked.pop(tag, None)
            if message is None:
                log.warning("settling delivery %s on %s: its consumer closed; it will be "
                            "redelivered", tag, self.queue)
                return
            if dead_reason is not None:
                self._broker.dead_letter(self.queue, message, dead_reason)
            self._broker.dispatch(self.queue)

    def close(self) -> None:
        """Give every unsettled message back to the head of its queue, marked redelivered."""
        with self._cond:
            self._closed = True
            returned = [self._unacked.pop(tag) for tag in sorted(self._unacked)]
            self._pushed.clear()
            self._broker.unsubscribe(self, returned)
