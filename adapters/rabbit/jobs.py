"""The jobs queue on RabbitMQ: publishing jobs, taking them one at a time, counting them.

Jobs are persistent and confirmed: :meth:`RabbitJobPublisher.publish` returns
only when the broker has stored the job, and re-publishes it on a new
connection if the old one broke before the confirm. A job may therefore be
stored twice, never zero times; consumers dedupe by ``job_id``.
:class:`RabbitJobSource` takes one job at a time (prefetch 1, manual ack); the
same class reads the dead-letter queue, whose deliveries carry ``reason``.
"""

from __future__ import annotations

import threading

from imgproc.adapters.rabbit.connection import LinkedClient, RabbitLink, enable_confirms
from imgproc.adapters.rabbit.consumer import QueueConsumer, RabbitDelivery
from imgproc.adapters.rabbit.settings import RabbitSettings
from imgproc.core.messages import JobMessage


class RabbitJobPublisher(LinkedClient):
    """Puts jobs on the jobs queue (a :class:`~imgproc.core.ports.JobPublisher`)."""

    def __init__(self, settings: RabbitSettings, role: str = "publisher") -> None:
        self._settings = settings
        self._link = RabbitLink(settings, role, [enable_confirms])
        self._link.run("declaring the topology", lambda _ch: None)

    def publish(self, job: JobMessage) -> None:
        self.publish_body(job.encode(), job.job_id)

    def publish_body(self, body: bytes, message_id: str) -> None:
        """Publish bytes as they are (a replay's stored job, or a test's malformed one)."""
        self._link.publish(f"publishing job {message_id}", "", self._settings.jobs_queue, body,
                           message_id=message_id, mandatory=True)

    def close(self) -> None:
        self._link.close()


class RabbitJobSource(LinkedClient):
    """Hands out jobs one at a time (a :class:`~imgproc.core.ports.JobSource`).

    ``queue`` defaults to the jobs queue; pass ``settings.dead_letter_queue`` to
    read what was dead-lettered (each delivery's ``reason`` says why).
    """

    def __init__(self, settings: RabbitSettings, queue: str | None = None,
                 role: str = "source", stop: threading.Event | None = None) -> None:
        name = queue or settings.jobs_queue
        self._link = RabbitLink(settings, role, [enable_confirms], stop=stop)
        self._consumer = QueueConsumer(self._link, lambda: name, prefetch=1,
                                       dead_letter_queue=settings.dead_letter_queue)
        self._link.run("declaring the topology", lambda _ch: None)

    def next_delivery(self, timeout_s: float) -> RabbitDelivery | None:
        return self._consumer.next(timeout_s)

    def keep_alive(self) -> None:
        self._link.keep_alive("keeping the connection alive during a job")

    def close(self) -> None:
        self._link.close()


class RabbitReadyCount:
    """Counts the messages ready in a queue (the jobs queue by default), not those in flight."""

    def __init__(self, settings: RabbitSettings, queue: str | None = None,
                 stop: threading.Event | None = None) -> None:
        self._queue = queue or settings.jobs_queue
        self._link = RabbitLink(settings, "ready-count", stop=stop)

    def ready(self) -> int:
        result = self._link.run(f"counting messages in {self._queue}",
                                lambda ch: ch.queue_declare(self._queue, passive=True))
        return int(result.method.message_count)

    def close(self) -> None:
        self._link.close()
