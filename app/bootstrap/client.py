"""The job client's parts on the real services: RabbitMQ for jobs and replies, the
configured object store for uploads and downloads."""

from __future__ import annotations

from functools import partial

from imgproc.adapters.rabbit.jobs import RabbitJobPublisher
from imgproc.adapters.rabbit.replies import RabbitReplyInbox
from imgproc.adapters.rabbit.results import RabbitResultLookup
from imgproc.adapters.storage.router import s3_storage
from imgproc.adapters.system_clock import SystemClock
from imgproc.client import ClientParts
from imgproc.settings import Settings


def client_parts(settings: Settings) -> ClientParts:
    """Jobs go to the jobs queue; a job's names resolve as a worker's do (its roots, the
    configured places), so the client reads and writes what workers will."""
    storage = s3_storage(settings.worker.input_root, settings.worker.output_root,
                         settings.storage)
    return ClientParts(
        publisher=RabbitJobPublisher(settings.rabbit, role="job-client"),
        open_inbox=partial(RabbitReplyInbox, settings.rabbit),
        lookup=RabbitResultLookup(settings.rabbit),
        storage=storage, bucket=settings.storage.bucket,
        max_object_bytes=settings.storage.max_object_bytes, clock=SystemClock())
