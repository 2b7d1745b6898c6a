"""Reading a RabbitMQ stream (the kept results) over AMQP 0-9-1: where it ends, and what it
holds up to there.

A stream is an append-only log: a consumer names the offset it starts at
(``x-stream-offset``: ``first``, ``last``, ``next`` or a number) and every delivery carries
its own offset in the ``x-stream-offset`` header, so reading takes nothing away. Offsets
grow but are not dense. Neither ``basic.get`` nor a message count works on a stream
(RabbitMQ 3.10 answers 540 and 0), so the end is found by reading the last chunk
(``last``), and a read stops there.

Each read here runs on a connection of its own, dropped at the end: stopping a consumer
makes pika reject what is still on its way, and RabbitMQ 3.10 answers a reject on a stream
by closing the whole connection (540), which must not be a connection someone else uses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pika
import pika.exceptions as pex
from pika.adapters.blocking_connection import BlockingConnection

from imgproc.core.errors import ImgprocError

log = logging.getLogger(__name__)
OFFSET_HEADER = "x-stream-offset"
READ_PREFETCH = 1000
FIRST_WAIT_S = 2.0
SETTLE_S = 0.2
Connect = Callable[[], BlockingConnection]
Message = tuple[pika.BasicProperties, bytes]


class StreamStalled(ImgprocError):
    """A stream stopped delivering before the end a read was after."""


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


def stream_tail(connect: Connect, queue: str, first_wait_s: float = FIRST_WAIT_S
                ) -> int | None:
    """The offset of ``queue``'s last message, or a later one if results keep coming; None
    if the stream is empty (nothing came from its last chunk within ``first_wait_s``)."""
    tail: int | None = None
    first_at = 0.0
    idle = 0.0
    for item in _read(connect, queue, "last", SETTLE_S):
        if item is None:
            idle += SETTLE_S
            if tail is not None or idle >= first_wait_s:
                break
            continue
        if tail is None:
            first_at = time.monotonic()
        tail = max(tail if tail is not None else item[0], item[0])
        if time.monotonic() - first_at >= SETTLE_S:  # the chunk is in; more are newer
            break
    return tail


def read_stream(connect: Connect, queue: str, stall_s: float = FIRST_WAIT_S
                ) -> Iterator[Message]:
    """Every message of ``queue`` from its first up to its end when the read began, oldest
    first, all left in place; :class:`StreamStalled` if it stops delivering for ``stall_s``
    before that end."""
    tail = stream_tail(connect, queue)
    if tail is None:
        return
    idle = 0.0
    last = None
    for item in _read(connect, queue, "first", SETTLE_S):
        if item is None:
            idle += SETTLE_S
            if idle >= stall_s:
                raise StreamStalled(f"reading {queue}: nothing came for {stall_s:g} s after "
                                    f"offset {last}, before its end at offset {tail}")
            continue
        idle = 0.0
        last, message = item
        if last > tail:
            return
        yield message
        if last == tail:
            return


def _read(connect: Connect, queue: str, start: object, idle_s: float
          ) -> Iterator[tuple[int, Message] | None]:
    """``queue``'s messages from ``start`` with their offsets, on a connection of this
    read's own; None after every ``idle_s`` without one."""
    connection = connect()
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=READ_PREFETCH)
        for method, props, body in channel.consume(queue, arguments={OFFSET_HEADER: start},
                                                   inactivity_timeout=idle_s):
            if method is None:
                yield None
                continue
            channel.basic_ack(method.delivery_tag)
            offset = offset_of(dict(props.headers or {}))
            if offset is not None:
                yield offset, (props, body)
    finally:
        _drop_quietly(connection)


def _drop_quietly(connection: BlockingConnection) -> None:
    """Close ``connection``, which the broker may close first (see the module's docstring)."""
    with quiet_stream_rejects():
        try:
            if connection.is_open:
                connection.close()
        except (pex.AMQPError, OSError, ValueError) as exc:
            log.debug("closing a stream reader's connection: %s", exc)


@contextmanager
def quiet_stream_rejects() -> Iterator[None]:
    """pika logs an error for every connection the broker closes; the one it closes for a
    reject on a stream, at the end of a read, is expected."""
    pika_logger = logging.getLogger("pika.adapters.blocking_connection")

    def not_a_stream_reject(record: logging.LogRecord) -> bool:
        return "not supported by stream queues" not in record.getMessage()

    pika_logger.addFilter(not_a_stream_reject)
    try:
        yield
    finally:
        pika_logger.removeFilter(not_a_stream_reject)
