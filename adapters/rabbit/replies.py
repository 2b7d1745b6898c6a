"""A job client's reply queue: the results of its own jobs, and no one else's.

Each client declares ``rabbit.reply_queue_prefix`` + its id, a durable queue that the
broker deletes once unused for ``rabbit.reply_queue_expiry_s`` (its client gone). Durable,
and not exclusive, so that a client that lost its connection, or a broker that restarted,
finds the replies that arrived meanwhile; workers reply through the default exchange with
the job id as ``message_id``. Replies that reach no queue are still kept in the results
stream, where a client that came back too late looks them up by job id.
"""

from __future__ import annotations

import threading

from pika.adapters.blocking_connection import BlockingChannel

from imgproc.adapters.rabbit.connection import LinkedClient, RabbitLink
from imgproc.adapters.rabbit.consumer import QueueConsumer
from imgproc.adapters.rabbit.settings import RabbitSettings
from imgproc.core.messages import ResultMessage
from imgproc.core.results import take_results


class RabbitReplyInbox(LinkedClient):
    """The results replied to one client (a :class:`~imgproc.core.ports.ReplyInbox`)."""

    def __init__(self, settings: RabbitSettings, client_id: str,
                 stop: threading.Event | None = None) -> None:
        self.queue_name = settings.reply_queue_prefix + client_id
        self._expiry_ms = int(settings.reply_queue_expiry_s * 1000)
        self._link = RabbitLink(settings, "job-client", [self._declare], stop=stop)
        self._consumer = QueueConsumer(self._link, lambda: self.queue_name,
                                       settings.feed_prefetch)
        self._link.run(f"declaring the reply queue {self.queue_name}", lambda _ch: None)

    def poll_results(self, timeout_s: float) -> list[ResultMessage]:
        return take_results(self._consumer.next, timeout_s, self.queue_name)

    def delete(self) -> None:
        """Remove the queue now (a client done with its jobs), not at its expiry."""
        self._link.run(f"deleting {self.queue_name}",
                       lambda channel: channel.queue_delete(self.queue_name))

    def close(self) -> None:
        self._link.close()

    def _declare(self, channel: BlockingChannel) -> None:
        channel.queue_declare(self.queue_name, durable=True,
                              arguments={"x-expires": self._expiry_ms,
                                         "x-queue-type": "classic"})
