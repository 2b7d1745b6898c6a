"""Reading a RabbitMQ stream (the kept results) over AMQP 0-9-1: where it ends, and what it
holds up to there.

A stream is an append-only log: a consumer names the offset it starts at
(``x-stream-offset``: ``first``, ``last``, ``next`` or a number) and every delivery carries
its own offset in the ``x-stream-offset`` header, so reading takes nothing away. Offsets
grow but are not dense. Neither ``basic.get`` nor a message count works on a stream
(RabbitMQ 3.10 answers 540 and 0), so the end is found by reading the last chunk
(``last``), and a read stops there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pika
from pika.adapters.blocking_connection import BlockingChannel

OFFSET_HEADER = "x-stream-offset"
READ_PREFETCH = 1000
FIRST_WAIT_S = 2.0
SETTLE_S = 0.2


def stream_arguments(max_age_s: float, max_bytes: int) -> dict[str, object]:
    """A stream's declaration: its retention by age and size, in segments small enough
    that the oldest go a little at a time (retention drops whole segments)."""
    return {"x-queue-type": "stream", "x-max-age": f"{max(1, round(max_age_s))}s",
            "x-max-length-bytes": max_bytes,
            "x-stream-max-segment-size-bytes": max(1024, max_bytes // 16)}


def offset_of(headers: dict[str, object]) -> int | None:
    """A delivery's offset in its stream (None for a message from a queue)."""
    value = headers.get(OFFSET_HEADER)
    return value if isinstance(value, int) else None


Message = tuple[pika.BasicProperties, bytes]


def _read(channel: BlockingChannel, queue: str, start: object, idle_s: float
          ) -> Iterator[tuple[int, Message] | None]:
    """``queue``'s messages from ``start`` with their offsets, on a channel of this read's
    own; None after every ``idle_s`` without one."""
    own = channel.connection.channel()
    try:
        own.basic_qos(prefetch_count=READ_PREFETCH)
        for method, props, body in own.consume(queue, arguments={OFFSET_HEADER: start},
                                               inactivity_timeout=idle_s):
            if method is None:
                yield None
                continue
            own.basic_ack(method.delivery_tag)
            offset = offset_of(dict(props.headers or {}))
            if offset is not None:
                yield offset, (props, body)
    finally:
        if own.is_open:
            own.close()


def stream_tail(channel: BlockingChannel, queue: str, first_wait_s: float = FIRST_WAIT_S
                ) -> int | None:
    """The offset of ``queue``'s last message; None if the stream is empty (nothing came
    from its last chunk within ``first_wait_s``)."""
    tail: int | None = None
    idle = 0.0
    for item in _read(channel, queue, "last", SETTLE_S):
        if item is not None:
            tail = max(tail if tail is not None else item[0], item[0])
            idle = 0.0
            continue
        idle += SETTLE_S
        if tail is not None or idle >= first_wait_s:
            break
    return tail


def read_stream(channel: BlockingChannel, queue: str, stall_s: float = FIRST_WAIT_S
                ) -> Iterator[Message]:
    """Every message of ``queue`` from its first up to its end when the read began, oldest
    first, all left in place; a stream that stops delivering for ``stall_s`` ends it."""
    tail = stream_tail(channel, queue)
    if tail is None:
        return
    idle = 0.0
    for item in _read(channel, queue, "first", SETTLE_S):
        if item is None:
            idle += SETTLE_S
            if idle >= stall_s:
                return
            continue
        idle = 0.0
        offset, message = item
        if offset > tail:
            return
        yield message
        if offset == tail:
            return
