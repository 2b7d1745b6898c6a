"""Reading a queue's messages without taking them: for an operator's look at the dead
letters (the kept results are a stream: ``imgproc.adapters.rabbit.stream``).

Each message is fetched unacknowledged on a channel of its own, which is then closed:
the broker puts every one of them back, in order. A queue read while consumers take
from it may show them a message redelivered; reads are for queues nobody consumes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pika
from pika.adapters.blocking_connection import BlockingChannel

from imgproc.adapters.rabbit.connection import RabbitLink
from imgproc.adapters.rabbit.consumer import dead_letter_reason
from imgproc.adapters.rabbit.settings import RabbitSettings

DEFAULT_LIMIT = 10_000


@dataclass(frozen=True)
class Peeked:
    """One message, as it lies in its queue."""

    message_id: str | None
    headers: dict[str, object]
    body: bytes


def peek(channel: BlockingChannel, queue: str, limit: int = DEFAULT_LIMIT) -> list[Peeked]:
    """Up to ``limit`` messages of ``queue``, head first, all left in place."""
    own = channel.connection.channel()
    found: list[Peeked] = []
    try:
        while len(found) < limit:
            method, props, body = own.basic_get(queue)
            if method is None:
                break
            found.append(_peeked(props, body))
    finally:
        own.close()
    return found


def _peeked(props: pika.BasicProperties, body: bytes) -> Peeked:
    return Peeked(props.message_id, dict(props.headers or {}), body)


class QueuePeek:
    """Reads one queue's messages, left in place, on a connection of its own."""

    def __init__(self, settings: RabbitSettings, queue: str, role: str = "peek") -> None:
        self.settings = settings
        self.queue = queue
        self._link = RabbitLink(settings, role)

    def messages(self, limit: int = DEFAULT_LIMIT) -> list[Peeked]:
        return self._link.run(f"reading {self.queue}", lambda ch: peek(ch, self.queue, limit))

    def matching(self, keep: Callable[[Peeked], bool], limit: int = DEFAULT_LIMIT
                 ) -> list[Peeked]:
        return [m for m in self.messages(limit) if keep(m)]

    def close(self) -> None:
        self._link.close()


def dead_letters(settings: RabbitSettings, limit: int = DEFAULT_LIMIT) -> list[tuple[Peeked, str]]:
    """The dead-letter queue's messages, each with why it is there."""
    reader = QueuePeek(settings, settings.dead_letter_queue, "dead-letters")
    try:
        return [(m, dead_letter_reason(m.headers, settings.delivery_limit) or "no reason given")
                for m in reader.messages(limit)]
    finally:
        reader.close()
