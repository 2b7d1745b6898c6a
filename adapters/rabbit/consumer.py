"""Consuming one queue with a prefetch limit, and the deliveries it hands out.

A :class:`QueueConsumer` subscribes on its first call (so nothing is pushed to
a process that never asks) and again after every reconnect; what the broker
pushed on a lost connection is forgotten, since the broker redelivers it.
A :class:`RabbitDelivery` is settled once: :meth:`~RabbitDelivery.ack`, or
:meth:`~RabbitDelivery.dead_letter`, which publishes a confirmed copy to the
dead-letter queue with the reason in the ``x-imgproc-reason`` header and then
acks the original, both on the delivery's own connection. Settling a delivery
whose connection is gone, or failing to, does nothing but log: the broker will
hand the message out again, and the caller will settle it then.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic

from imgproc.adapters.rabbit.connection import RabbitLink, message_properties
from imgproc.adapters.rabbit.errors import AlreadySettled

log = logging.getLogger(__name__)

REASON_HEADER = "x-imgproc-reason"
DEATH_HEADER = "x-death"
SOURCE_HEADER = "x-imgproc-queue"
MAX_REASON_CHARS = 2000


@dataclass(eq=False)
class RabbitDelivery:
    """One message from a queue, settled exactly once (see the module's docstring)."""

    body: bytes
    redelivered: bool
    headers: dict[str, object]
    message_id: str | None
    _consumer: QueueConsumer = field(repr=False)
    _tag: int = field(repr=False)
    _generation: int = field(repr=False)
    _settled: bool = field(default=False, repr=False)

    @property
    def reason(self) -> str | None:
        """Why it was dead-lettered, for a message read from the dead-letter queue."""
        return dead_letter_reason(self.headers, self._consumer.delivery_limit)

    def ack(self) -> None:
        self._settle_once()
        self._consumer.ack(self._tag, self._generation)

    def dead_letter(self, reason: str) -> None:
        self._settle_once()
        self._consumer.dead_letter(self, reason[:MAX_REASON_CHARS])

    def _settle_once(self) -> None:
        if self._settled:
            raise AlreadySettled(f"delivery {self.message_id or self._tag}")
        self._settled = True


def delivery_limit_reason(delivery_limit: int) -> str:
    """The reason of a job the broker dead-lettered at its delivery limit."""
    return (f"delivery limit reached: handed out {delivery_limit + 1} times and never "
            f"settled (its worker died or lost its connection every time)")


def dead_letter_reason(headers: dict[str, object], delivery_limit: int) -> str | None:
    """imgproc's own reason, or the broker's (``x-death``) said in imgproc's words."""
    value = headers.get(REASON_HEADER)
    if value is not None:
        return value.decode() if isinstance(value, bytes) else str(value)
    deaths = headers.get(DEATH_HEADER)
    if not isinstance(deaths, list) or not deaths or not isinstance(deaths[0], dict):
        return None
    reason = deaths[0].get("reason")
    reason = reason.decode() if isinstance(reason, bytes) else str(reason)
    if reason == "delivery_limit":
        return delivery_limit_reason(delivery_limit)
    return f"dead-lettered by the broker: {reason}"


class QueueConsumer:
    """Buffers what the broker pushes from ``queue`` (at most ``prefetch`` unsettled)."""

    def __init__(self, link: RabbitLink, queue: Callable[[], str], prefetch: int,
                 dead_letter_queue: str | None = None,
                 arguments: Callable[[], dict[str, object]] | None = None) -> None:
        """``arguments``: the consume arguments of each subscription (a stream's offset)."""
        self._link = link
        self._arguments = arguments
        self._queue = queue
        self._prefetch = prefetch
        self.delivery_limit = link.settings.delivery_limit
        self._dead_letter_queue = dead_letter_queue
        self._buffer: deque[RabbitDelivery] = deque()
        self._subscribed_generation = 0
        self._started = False

    def next(self, timeout_s: float) -> RabbitDelivery | None:
        """The next delivery, waiting up to ``timeout_s``; None if none came."""
        self._start()
        deadline = time.monotonic() + timeout_s
        while True:
            if self._buffer:
                return self._buffer.popleft()
            remaining = deadline - time.monotonic()
            self._link.wait(f"waiting on queue {self._queue()}", remaining)
            if remaining <= 0 and not self._buffer:
                return None

    def ack(self, tag: int, generation: int) -> None:
        self._link.settle(f"ack of delivery {tag} on {self._queue()}", generation,
                          lambda ch: ch.basic_ack(tag))

    def dead_letter(self, delivery: RabbitDelivery, reason: str) -> None:
        doing = f"dead-lettering delivery {delivery._tag} from {self._queue()}"
        if self._dead_letter_queue is None:
            raise ValueError(f"{doing}: queue {self._queue()} has no dead-letter queue")
        dead_letter_queue = self._dead_letter_queue
        headers = {**delivery.headers, REASON_HEADER: reason, SOURCE_HEADER: self._queue()}
        props = message_properties(delivery.message_id, headers)

        def move(channel: BlockingChannel) -> None:
            channel.basic_publish("", dead_letter_queue, delivery.body, props, mandatory=True)
            channel.basic_ack(delivery._tag)

        self._link.settle(doing, delivery._generation, move)

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._link.add_setup(self._subscribe)
        self._link.run(f"subscribing to {self._queue()}", self._subscribe_once)

    def _subscribe_once(self, channel: BlockingChannel) -> None:
        if self._subscribed_generation != self._link.generation:
            self._subscribe(channel)

    def _subscribe(self, channel: BlockingChannel) -> None:
        self._buffer.clear()
        self._subscribed_generation = self._link.generation
        channel.basic_qos(prefetch_count=self._prefetch)
        arguments = self._arguments() if self._arguments else None
        channel.basic_consume(self._queue(), self._on_message, arguments=arguments)

    def _on_message(self, _channel: BlockingChannel, method: Basic.Deliver,
                    props: pika.BasicProperties, body: bytes) -> None:
        self._buffer.append(RabbitDelivery(
            body=body, redelivered=bool(method.redelivered), headers=dict(props.headers or {}),
            message_id=props.message_id, _consumer=self, _tag=method.delivery_tag,
            _generation=self._link.generation,
        ))
