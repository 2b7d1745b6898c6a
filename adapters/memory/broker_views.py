"""The ports made from a :class:`~imgproc.adapters.memory.broker.MemoryBroker`.

Each view mirrors its RabbitMQ namesake in :mod:`imgproc.adapters.rabbit`
(same constructor role, same behaviour, same errors); the broker object makes
them, so a test or a demo wires one broker into every process it simulates.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from imgproc.adapters.rabbit.errors import BrokerRejected
from imgproc.core.messages import (
    DeployerCommand,
    JobMessage,
    ResultMessage,
    StateReport,
)
from imgproc.core.results import take_results

if TYPE_CHECKING:
    from imgproc.adapters.memory.broker import MemoryBroker, MemoryConsumer, MemoryDelivery

log = logging.getLogger(__name__)



class _Closable:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker
        self._closed = False

    def _check_open(self, doing: str) -> None:
        if self._closed:
            raise BrokerRejected(doing, "memory://broker", f"this {type(self).__name__} was closed")

    def close(self) -> None:
        self._closed = True


class MemoryJobPublisher(_Closable):
    """Puts jobs on the jobs queue; "confirmed" as soon as stored."""

    def publish(self, job: JobMessage) -> None:
        self.publish_body(job.encode(), job.job_id)

    def publish_body(self, body: bytes, message_id: str) -> None:
        """Publish bytes as they are (a replay's stored job, or a test's malformed one)."""
        self._check_open(f"publishing job {message_id}")
        self._broker.publish(self._broker.settings.jobs_queue, body, message_id)


class MemoryJobSource:
    """Hands out one delivery at a time from a queue (prefetch 1)."""

    def __init__(self, broker: MemoryBroker, queue: str) -> None:
        self._consumer = broker.consumer(queue, prefetch=1)

    def next_delivery(self, timeout_s: float) -> MemoryDelivery | None:
        return self._consumer.next(timeout_s)

    def keep_alive(self) -> None:
        """Nothing to keep alive: a memory broker has no connection to lose."""

    def close(self) -> None:
        self._consumer.close()


class MemoryReadyCount:
    """Counts the messages waiting in a queue, not those handed out."""

    def __init__(self, broker: MemoryBroker, queue: str) -> None:
        self._broker = broker
        self._queue = queue

    def ready(self) -> int:
        return self._broker.ready(self._queue)

    def close(self) -> None:
        """Nothing to release; here for symmetry with the RabbitMQ adapter."""


class MemoryResultSink(_Closable):
    """Fans each result out to every feed's queue."""

    def publish_result(self, result: ResultMessage) -> None:
        self._check_open(f"publishing the result of job {result.job_id}")
        self._broker.fanout(result.encode(), result.job_id)

    def reply(self, queue: str, result: ResultMessage) -> None:
        self._check_open(f"replying the result of job {result.job_id}")
        self._broker.publish_if_declared(queue, result.encode(), result.job_id)

    def keep_alive(self) -> None:
        """Nothing to keep alive: a memory broker has no connection to lose."""


class MemoryResultFeed:
    """Results published since the feed's queue was bound."""

    def __init__(self, broker: MemoryBroker, queue_name: str) -> None:
        self._broker = broker
        self.queue_name = queue_name
        self._consumer = broker.consumer(queue_name, broker.settings.feed_prefetch)

    def poll_results(self, timeout_s: float) -> list[ResultMessage]:
        return take_results(self._consumer.next, timeout_s, self.queue_name)

    def close(self) -> None:
        self._consumer.close()
        self._broker.delete_queue(self.queue_name)


class MemoryReplyInbox(MemoryResultFeed):
    """A job client's own queue of results (see :class:`~imgproc.core.ports.ReplyInbox`):
    read as a feed's, but kept after close until deleted, as a durable queue is."""

    def delete(self) -> None:
        self._broker.delete_queue(self.queue_name)

    def close(self) -> None:
        self._consumer.close()


class MemoryCommandBus(_Closable):
    """The deployer's command queue and its callback queue of state reports."""

    def __init__(self, broker: MemoryBroker) -> None:
        super().__init__(broker)
        self._commands: MemoryConsumer | None = None
        self._reports: MemoryConsumer | None = None

    def send(self, command: DeployerCommand) -> None:
        self._check_open(f"sending {command.command} {command.machine_id}")
        self._broker.publish(self._broker.settings.deployer_queue, command.encode(),
                             f"{command.command}:{command.machine_id}")

    def next_command(self, timeout_s: float) -> MemoryDelivery | None:
        self._check_open("waiting for a command")
        if self._commands is None:
            self._commands = self._broker.consumer(self._broker.settings.deployer_queue, 1)
        return self._commands.next(timeout_s)

    def send_report(self, report: StateReport) -> None:
        """A machine's new state, on the callback queue."""
        self._check_open(f"reporting {report.machine_id} {report.state}")
        self._broker.publish(self._broker.settings.callback_queue, report.encode(),
                             f"{report.machine_id}:{report.state}")

    def next_report(self, timeout_s: float) -> MemoryDelivery | None:
        """The next state report delivery (body: a StateReport), or None."""
        self._check_open("waiting for a state report")
        if self._reports is None:
            self._reports = self._broker.consumer(self._broker.settings.callback_queue, 1)
        return self._reports.next(timeout_s)

    def close(self) -> None:
        super().close()
        for consumer in (self._commands, self._reports):
            if consumer is not None:
                consumer.close()


class MemoryResultLookup:
    """Finds kept results by job id, as the RabbitMQ lookup does."""

    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    def find(self, job_id: str) -> list[ResultMessage]:
        return [r for r in map(ResultMessage.decode, self._broker.kept_results())
                if r.job_id == job_id]

    def close(self) -> None:
        """Nothing to release; here for symmetry with the RabbitMQ adapter."""
