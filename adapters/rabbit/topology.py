"""The queues and exchanges imgproc declares, and moving a queue to new arguments.

Every durable queue is a quorum queue: replicated on a cluster, so that it lives on
while any majority of the nodes does (a classic queue lives on one node, and while that
node is down nobody can even declare it). The jobs queue has a delivery limit too, so
that a job whose worker dies every time (a crash, memory) is dead-lettered after
``delivery_limit`` more tries instead of going round the fleet for ever. Its dead
letters go, at least once, to the dead-letter queue (``x-dead-letter-strategy``
needs ``x-overflow: reject-publish``).

A queue cannot change its arguments: a queue declared by an older imgproc (a classic
queue) or with another delivery limit is refused by the broker (406). It is then moved:
its messages into a temporary quorum queue, the old queue deleted once empty, declared
anew, the messages moved back. Nothing is lost on the way (each message is acknowledged
only after its copy was confirmed; an interrupted move is finished by the next start;
two processes never move one queue at once: :func:`_migration_lock`).
A queue with consumers is not moved: they would lose it under them; :class:`QueueInUse`
says what to do. A quorum queue with another delivery limit is moved the same way, with
one gap (see :func:`_delete_if_empty`).

The kept results are a stream, not a queue (:func:`declare_kept_results`): every result is
appended once, and a replay or a lookup reads it without taking anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pika
import pika.exceptions as pex
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from imgproc.adapters.rabbit.errors import BrokerRejected
from imgproc.adapters.rabbit.settings import RabbitSettings
from imgproc.adapters.rabbit.stream import quiet_stream_rejects, stream_arguments

log = logging.getLogger(__name__)
PRECONDITION_FAILED = 406
NOT_FOUND = 404
RESOURCE_LOCKED = 405
NOT_IMPLEMENTED = 540
LOCK_WAIT_S = 120.0
LOCK_POLL_S = 0.5
MAX_DELETE_TRIES = 20
QUORUM: dict[str, object] = {"x-queue-type": "quorum"}
T = TypeVar("T")


class QueueInUse(BrokerRejected):
    """A queue must be moved to new arguments, but consumers still use it."""

    def __init__(self, queue: str, where: str, consumers: int) -> None:
        super().__init__(
            f"moving queue {queue} to a quorum queue", where,
            f"it was declared with other arguments (by an older imgproc, or with another "
            f"delivery_limit) and {consumers} consumer(s) still use it; stop those processes "
            f"(workers, deployer: rabbitmqctl list_consumers shows them), then run: "
            f"imgproc broker migrate")


def jobs_queue_arguments(settings: RabbitSettings) -> dict[str, object]:
    return {
        **QUORUM,
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": settings.dead_letter_queue,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def kept_results_arguments(settings: RabbitSettings) -> dict[str, object]:
    """The kept results: a stream (an append-only log, read without taking anything),
    bounded by age and size, the oldest out first."""
    return stream_arguments(settings.kept_results_ttl_s, settings.kept_results_max_bytes)


def durable_queues(settings: RabbitSettings) -> dict[str, dict[str, object]]:
    """Every durable queue of imgproc's, with its arguments (the dead-letter queue first:
    the jobs queue's dead letters go there)."""
    return {
        settings.dead_letter_queue: QUORUM,
        settings.jobs_queue: jobs_queue_arguments(settings),
        settings.deployer_queue: QUORUM,
        settings.callback_queue: QUORUM,
    }


def declare_topology(channel: BlockingChannel, settings: RabbitSettings) -> dict[str, int]:
    """Declare every durable queue, the results exchange and the kept results stream, which
    receives every result, moving a queue declared otherwise; the messages moved, by
    queue."""
    moved = {queue: declare_queue(channel.connection, settings, queue, arguments)
             for queue, arguments in durable_queues(settings).items()}
    declare_kept_results(channel.connection, settings)
    channel.exchange_declare(settings.results_exchange, exchange_type="fanout", durable=True)
    channel.queue_bind(settings.kept_results_queue, settings.results_exchange)
    return moved


def declare_kept_results(connection: BlockingConnection, settings: RabbitSettings) -> None:
    """Declare the kept results stream. One declared with other retention settings keeps
    them (a stream's arguments are fixed; a RabbitMQ policy can change them): every process
    goes on. A queue of another kind under that name is not moved (it cannot be read off
    into a stream as a queue is): the operator chooses."""
    queue = settings.kept_results_queue
    if _declared(connection, queue, kept_results_arguments(settings)):
        return
    if _is_stream(settings, queue):
        log.warning("the kept results stream %s was declared with other retention settings "
                    "than rabbit.kept_results_ttl_s and kept_results_max_bytes; it keeps "
                    "them (change them with a RabbitMQ policy, or delete the stream)", queue)
        return
    raise BrokerRejected(
        f"declaring the kept results stream {queue}", settings.safe_url,
        "a queue of another kind has that name (an older imgproc's?); delete it "
        f"(rabbitmqctl delete_queue {queue}) or set rabbit.kept_results_queue to another name")


def _is_stream(settings: RabbitSettings, queue: str) -> bool:
    """Whether ``queue`` is a stream: the one kind that refuses ``basic.get``, by closing
    the connection (540), so this asks on a connection of its own. A message of a queue
    of another kind is only looked at, and goes back when the connection closes."""
    connection = pika.BlockingConnection([pika.URLParameters(u) for u in settings.urls])
    try:
        with quiet_stream_rejects():
            connection.channel().basic_get(queue)
        return False
    except pex.ConnectionClosedByBroker as exc:
        if exc.reply_code == NOT_IMPLEMENTED and "stream" in str(exc.reply_text):
            return True
        raise
    finally:
        if connection.is_open:
            connection.close()


def declare_queue(connection: BlockingConnection, settings: RabbitSettings, queue: str,
                  arguments: dict[str, object]) -> int:
    """Declare durable ``queue``; the number of messages moved (0 unless it had to be)."""
    if _declared(connection, queue, arguments):
        return _finish_interrupted_move(connection, queue)
    with _migration_lock(connection, queue):
        if _declared(connection, queue, arguments):  # another process moved it meanwhile
            return _move_back(connection, queue)
        return migrate_queue(connection, settings, queue, arguments)


def migrate_queue(connection: BlockingConnection, settings: RabbitSettings, queue: str,
                  arguments: dict[str, object]) -> int:
    """Move ``queue``'s messages to a new queue with ``arguments``; how many moved. The
    caller holds the queue's migration lock."""
    temporary = f"{queue}.migrating"
    channel = connection.channel()
    channel.confirm_delivery()
    try:
        consumers = channel.queue_declare(queue, passive=True).method.consumer_count
        if consumers:
            raise QueueInUse(queue, settings.safe_url, consumers)
        channel.queue_declare(temporary, durable=True, arguments=arguments)
        moved = _move(channel, queue, temporary)
        _delete_when_empty(channel, settings, queue, temporary)
        channel.queue_declare(queue, durable=True, arguments=arguments)
        _move(channel, temporary, queue)
        channel.queue_delete(temporary)
    finally:
        if channel.is_open:
            channel.close()
    log.warning("moved %d message(s) of %s to a quorum queue", moved, queue)
    return moved


def _declared(connection: BlockingConnection, queue: str, arguments: dict[str, object]) -> bool:
    """Whether ``queue`` could be declared with ``arguments`` (False: it has others)."""
    try:
        _on_own_channel(connection, lambda ch: ch.queue_declare(queue, durable=True,
                                                                arguments=arguments))
    except pex.ChannelClosedByBroker as exc:
        if exc.reply_code != PRECONDITION_FAILED:
            raise
        return False
    return True


def _finish_interrupted_move(connection: BlockingConnection, queue: str) -> int:
    """Messages left in the temporary queue by a move that was interrupted go back."""
    if not _exists(connection, f"{queue}.migrating"):
        return 0
    with _migration_lock(connection, queue):
        return _move_back(connection, queue)


def _move_back(connection: BlockingConnection, queue: str) -> int:
    """Under the migration lock: what the temporary queue holds back into ``queue``."""
    temporary = f"{queue}.migrating"
    if not _exists(connection, temporary):
        return 0

    def move_back(channel: BlockingChannel) -> int:
        channel.confirm_delivery()
        moved = _move(channel, temporary, queue)
        channel.queue_delete(temporary)
        return moved

    moved = _on_own_channel(connection, move_back)
    log.warning("moved %d message(s) back from %s, left by an interrupted move", moved,
                temporary)
    return moved


def _exists(connection: BlockingConnection, queue: str) -> bool:
    try:
        with _quiet_channel_close(queue):
            _on_own_channel(connection, lambda ch: ch.queue_declare(queue, passive=True))
    except pex.ChannelClosedByBroker as exc:
        if exc.reply_code == NOT_FOUND:
            return False
        raise
    return True


@contextmanager
def _migration_lock(connection: BlockingConnection, queue: str) -> Iterator[None]:
    """Hold ``queue``'s migration lock: an exclusive queue, which one connection at a time
    can declare and which goes with its connection, so two processes never move one queue
    at once (the second waits, then finds the work done)."""
    name = f"{queue}.migration-lock"
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        channel = connection.channel()
        try:
            with _quiet_channel_close(name):
                channel.queue_declare(name, exclusive=True, auto_delete=True)
            break
        except pex.ChannelClosedByBroker as exc:
            if exc.reply_code != RESOURCE_LOCKED or time.monotonic() > deadline:
                raise
            log.info("another process is moving %s; waiting", queue)
            time.sleep(LOCK_POLL_S)
    try:
        yield
    finally:
        if channel.is_open:
            channel.queue_delete(name)
            channel.close()


def _move(channel: BlockingChannel, source: str, target: str) -> int:
    """Every message of ``source`` to ``target``: each acked once its copy is confirmed."""
    moved = 0
    while True:
        method, props, body = channel.basic_get(source)
        if method is None:
            return moved
        channel.basic_publish("", target, body, props, mandatory=True)
        channel.basic_ack(method.delivery_tag)
        moved += 1


def _delete_when_empty(channel: BlockingChannel, settings: RabbitSettings, queue: str,
                       temporary: str) -> None:
    """Delete ``queue`` once empty: messages published meanwhile are moved first."""
    for _ in range(MAX_DELETE_TRIES):
        try:
            if _delete_if_empty(settings, queue):
                return
        except pex.ChannelClosedByBroker as exc:
            if exc.reply_code != PRECONDITION_FAILED:
                raise
        _move(channel, queue, temporary)
    raise BrokerRejected(f"moving queue {queue}", settings.safe_url,
                         f"messages kept arriving; tried {MAX_DELETE_TRIES} times")


def _delete_if_empty(settings: RabbitSettings, queue: str) -> bool:
    """Delete ``queue`` if it holds no message (406 if it does); False if it held some.

    A classic queue deletes itself only if empty, atomically. A quorum queue cannot
    (RabbitMQ closes the whole connection, 540, so this runs on a connection of its
    own): it is deleted once a count found it empty, which leaves a publisher a moment
    to add a job in between. That case is only a change of ``delivery_limit``: stop
    the publishers first (docs/reliability.md).
    """
    connection = pika.BlockingConnection([pika.URLParameters(u) for u in settings.urls])
    try:
        connection.channel().queue_delete(queue, if_empty=True)
        return True
    except pex.ConnectionClosedByBroker as exc:
        if exc.reply_code != NOT_IMPLEMENTED:
            raise
    finally:
        if connection.is_open:
            connection.close()
    connection = pika.BlockingConnection([pika.URLParameters(u) for u in settings.urls])
    try:
        channel = connection.channel()
        if channel.queue_declare(queue, passive=True).method.message_count:
            return False
        channel.queue_delete(queue)
        return True
    finally:
        if connection.is_open:
            connection.close()


@contextmanager
def _quiet_channel_close(queue: str) -> Iterator[None]:
    """pika warns of every channel the broker closes; asking whether ``queue`` exists is
    expected to close one on every start, which is not worth a warning."""
    pika_channel = logging.getLogger("pika.channel")

    def not_about_queue(record: logging.LogRecord) -> bool:
        return f"'{queue}'" not in record.getMessage()

    pika_channel.addFilter(not_about_queue)
    try:
        yield
    finally:
        pika_channel.removeFilter(not_about_queue)


def _on_own_channel(connection: BlockingConnection, op: Callable[[BlockingChannel], T]) -> T:
    """``op`` on a channel of its own: a refusal closes that channel, not the caller's."""
    channel = connection.channel()
    try:
        return op(channel)
    finally:
        if channel.is_open:
            channel.close()
