"""The queues and exchanges imgproc declares, and moving a jobs queue to new arguments.

The jobs queue is a quorum queue: replicated on a cluster, and with a delivery limit,
so that a job whose worker dies every time (a crash, memory) is dead-lettered after
``delivery_limit`` more tries instead of going round the fleet for ever. Its dead
letters go, at least once, to the dead-letter queue (``x-dead-letter-strategy``
needs ``x-overflow: reject-publish``).

A queue cannot change its arguments: a jobs queue declared by an older imgproc (a
classic queue) or with another delivery limit is refused by the broker (406). It is
then moved: its jobs into a temporary quorum queue, the old queue deleted once
empty, declared anew, the jobs moved back. Nothing is lost on the way (each job is
acknowledged only after its copy was confirmed; an interrupted move is finished by
the next start). A queue with consumers is not moved: their workers would lose it
under them; :class:`JobsQueueInUse` says what to do. A quorum queue with another
delivery limit is moved the same way, with one gap (see :func:`_delete_if_empty`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pika
import pika.exceptions as pex
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from imgproc.adapters.rabbit.errors import BrokerRejected
from imgproc.adapters.rabbit.settings import RabbitSettings

log = logging.getLogger(__name__)
PRECONDITION_FAILED = 406
NOT_FOUND = 404
NOT_IMPLEMENTED = 540
MAX_DELETE_TRIES = 20
T = TypeVar("T")


class JobsQueueInUse(BrokerRejected):
    """The jobs queue must be moved to new arguments, but workers still consume it."""

    def __init__(self, queue: str, where: str, consumers: int) -> None:
        super().__init__(
            f"moving jobs queue {queue} to a quorum queue", where,
            f"it was declared with other arguments (by an older imgproc, or with another "
            f"delivery_limit) and {consumers} consumer(s) still use it; stop those workers "
            f"(rabbitmqctl list_consumers shows them), then run: imgproc broker migrate")


def jobs_queue_arguments(settings: RabbitSettings) -> dict[str, object]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": settings.dead_letter_queue,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def declare_topology(channel: BlockingChannel, settings: RabbitSettings) -> None:
    """Declare every durable queue and exchange, moving a jobs queue declared otherwise."""
    channel.queue_declare(settings.dead_letter_queue, durable=True)
    declare_jobs_queue(channel.connection, settings)
    channel.exchange_declare(settings.results_exchange, exchange_type="fanout", durable=True)
    channel.queue_declare(settings.unclaimed_results_queue, durable=True)
    channel.queue_declare(settings.deployer_queue, durable=True)
    channel.queue_declare(settings.callback_queue, durable=True)


def declare_jobs_queue(connection: BlockingConnection, settings: RabbitSettings) -> int:
    """Declare the jobs queue; the number of jobs moved (0 unless it had to be moved)."""
    queue, arguments = settings.jobs_queue, jobs_queue_arguments(settings)
    try:
        _on_own_channel(connection, lambda ch: ch.queue_declare(queue, durable=True,
                                                                arguments=arguments))
    except pex.ChannelClosedByBroker as exc:
        if exc.reply_code != PRECONDITION_FAILED:
            raise
        return migrate_jobs_queue(connection, settings)
    return _finish_interrupted_move(connection, settings)


def migrate_jobs_queue(connection: BlockingConnection, settings: RabbitSettings) -> int:
    """Move the jobs queue's jobs to a new queue with imgproc's arguments; how many moved."""
    queue, arguments = settings.jobs_queue, jobs_queue_arguments(settings)
    temporary = f"{queue}.migrating"
    channel = connection.channel()
    channel.confirm_delivery()
    try:
        consumers = channel.queue_declare(queue, passive=True).method.consumer_count
        if consumers:
            raise JobsQueueInUse(queue, settings.safe_url, consumers)
        channel.queue_declare(temporary, durable=True, arguments=arguments)
        moved = _move(channel, queue, temporary)
        channel = _delete_when_empty(connection, channel, settings, temporary)
        channel.queue_declare(queue, durable=True, arguments=arguments)
        _move(channel, temporary, queue)
        channel.queue_delete(temporary)
    finally:
        if channel.is_open:
            channel.close()
    log.warning("moved %d job(s) of %s to a quorum queue with delivery limit %d", moved,
                queue, settings.delivery_limit)
    return moved


def _finish_interrupted_move(connection: BlockingConnection, settings: RabbitSettings) -> int:
    """Jobs left in the temporary queue by a move that was interrupted go back."""
    temporary = f"{settings.jobs_queue}.migrating"
    try:
        with _quiet_channel_close(temporary):
            _on_own_channel(connection, lambda ch: ch.queue_declare(temporary, passive=True))
    except pex.ChannelClosedByBroker as exc:
        if exc.reply_code == NOT_FOUND:
            return 0
        raise

    def move_back(channel: BlockingChannel) -> int:
        channel.confirm_delivery()
        moved = _move(channel, temporary, settings.jobs_queue)
        channel.queue_delete(temporary)
        return moved

    moved = _on_own_channel(connection, move_back)
    log.warning("moved %d job(s) back from %s, left by an interrupted move", moved, temporary)
    return moved


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


def _delete_when_empty(connection: BlockingConnection, channel: BlockingChannel,
                       settings: RabbitSettings, temporary: str) -> BlockingChannel:
    """Delete the jobs queue once empty: jobs published meanwhile are moved first."""
    queue = settings.jobs_queue
    for _ in range(MAX_DELETE_TRIES):
        try:
            if _delete_if_empty(settings, queue):
                return channel
        except pex.ChannelClosedByBroker as exc:
            if exc.reply_code != PRECONDITION_FAILED:
                raise
        _move(channel, queue, temporary)
    raise BrokerRejected(f"moving jobs queue {queue}", settings.safe_url,
                         f"jobs kept arriving; tried {MAX_DELETE_TRIES} times")


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
