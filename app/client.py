"""The job API for applications: hand in an image and its operations, get the result.

::

    from imgproc.client import Client

    with Client() as client:
        handle = client.submit("photo.jpg", ["thumbnail:256", "convert:webp"])
        result = handle.result(timeout=60)
        print(result.status, result.output, result.width, result.height)

A local input file is uploaded to the object store first (``s3://BUCKET/uploads/JOB/NAME``,
``storage.bucket``); an ``s3://`` input is used where it is. The output defaults to
``s3://BUCKET/outputs/JOB.EXT``. Each client has its own reply queue, named in its jobs
(``reply_to``), where workers send their results: many jobs may be in flight at once, and
waiting for one keeps the others' results for their own handles. A client that was away
finds any result by job id in the kept results (:meth:`Client.status`). A client is used
from one thread.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

from imgproc.adapters.images import FORMATS_BY_SUFFIX
from imgproc.adapters.storage.router import Storage
from imgproc.core.clock import Clock
from imgproc.core.errors import ImgprocError
from imgproc.core.image_ops import Convert, ImageOp
from imgproc.core.messages import JobMessage, ResultMessage
from imgproc.core.op_specs import parse_op, validate_op
from imgproc.core.ports import JobPublisher, ReplyInbox, ResultLookup
from imgproc.core.storage import S3_SCHEME, StorageError

log = logging.getLogger(__name__)
OpLike = ImageOp | str | dict[str, Any]
POLL_S = 0.5


class ClientError(ImgprocError):
    """A job that could not be handed in, or whose result did not come."""


class ResultTimeout(ClientError):
    def __init__(self, job_id: str, timeout_s: float) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id}: no result within {timeout_s:g} s (it may still be "
                         f"queued or running: imgproc job status {job_id})")


@dataclass
class ClientParts:
    """What a client talks to; :func:`imgproc.bootstrap.client.client_parts` makes the real
    ones, the memory system its own."""

    publisher: JobPublisher
    open_inbox: Callable[[str], ReplyInbox]
    lookup: ResultLookup
    storage: Storage
    bucket: str
    max_object_bytes: int
    clock: Clock
    close: Callable[[], None] = lambda: None


class JobHandle:
    """A job handed in; :meth:`result` waits for its result."""

    def __init__(self, client: Client, job: JobMessage) -> None:
        self._client = client
        self.job = job

    @property
    def job_id(self) -> str:
        return self.job.job_id

    def result(self, timeout: float = 60.0) -> ResultMessage:
        """The job's result (``status`` done or failed), or :class:`ResultTimeout`."""
        return self._client.wait(self.job_id, timeout)


class Client:
    """Submits image jobs and waits for their results; see the module's docstring."""

    def __init__(self, settings: Any = None, *, parts: ClientParts | None = None,
                 replies: bool = True) -> None:
        """``settings``: an :class:`imgproc.settings.Settings` (default: from the
        environment); ``replies=False`` for a client that never waits (no reply queue)."""
        if parts is None:
            from imgproc.bootstrap.client import client_parts
            from imgproc.settings import load_settings

            parts = client_parts(settings or load_settings())
        self.parts = parts
        self.client_id = uuid.uuid4().hex[:16]
        self._replies = replies
        self._inbox: ReplyInbox | None = None
        self._arrived: dict[str, ResultMessage] = {}
        self._pending: set[str] = set()

    def submit(self, input: str | Path, ops: Iterable[OpLike], output: str | None = None,
               job_id: str | None = None) -> JobHandle:
        """Hand in a job: ``input`` a local file (uploaded) or an ``s3://`` URL; ``ops``
        as models, dicts or short forms (``thumbnail:256``)."""
        job_id = job_id or f"job-{uuid.uuid4().hex[:16]}"
        parsed = [as_op(op) for op in ops]
        if not parsed:
            raise ClientError("a job needs at least one op (thumbnail:256, convert:webp, ...)")
        target = output or self._default_output(str(input), parsed, job_id)
        try:
            self.parts.storage.output(target)
        except ImgprocError as exc:
            raise ClientError(str(exc)) from exc
        source = self._input_url(str(input), job_id)
        inbox = self._reply_inbox() if self._replies else None
        job = JobMessage(job_id=job_id, submitted_at=self.parts.clock.now(), ops=parsed,
                         input=source, output=target,
                         reply_to=inbox.queue_name if inbox else None)
        self.parts.publisher.publish(job)
        self._pending.add(job_id)
        return JobHandle(self, job)

    def wait(self, job_id: str, timeout_s: float) -> ResultMessage:
        """The result of ``job_id`` from the reply queue, keeping others' for their turn."""
        if self._inbox is None:
            raise ClientError(f"job {job_id}: this client takes no replies (replies=False); "
                              "use status()")
        deadline = self.parts.clock.now() + timeout_s
        while job_id not in self._arrived:
            remaining = deadline - self.parts.clock.now()
            if remaining <= 0:
                raise ResultTimeout(job_id, timeout_s)
            for result in self._inbox.poll_results(min(POLL_S, remaining)):
                self._keep(result)
        self._pending.discard(job_id)
        return self._arrived.pop(job_id)

    def status(self, job_id: str) -> ResultMessage | None:
        """The kept result of ``job_id`` (a success over a failure), or None if there is
        none yet, or no longer."""
        found = self.parts.lookup.find(job_id)
        done = [r for r in found if r.status == "done"]
        return (done or found)[-1] if found else None

    def download(self, url: str, path: Path) -> int:
        """Copy the object at ``url`` (an output) into ``path``; its size in bytes."""
        stored = self.parts.storage.output(url)
        try:
            data = stored.store.read(stored.key, self.parts.max_object_bytes)
        except StorageError as exc:
            raise ClientError(f"cannot download {url}: {exc.reason}") from exc
        path.write_bytes(data)
        return len(data)

    def close(self) -> None:
        """Remove the reply queue (left to expire if that fails) and close the connections;
        a second call does nothing."""
        inbox, self._inbox = self._inbox, None
        try:
            if inbox is not None:
                try:
                    inbox.delete()
                except ImgprocError as exc:
                    log.warning("the reply queue %s is left to expire: %s", inbox.queue_name, exc)
                inbox.close()
        finally:
            self.parts.lookup.close()
            self.parts.publisher.close()
            self.parts.storage.close()
            self.parts.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _keep(self, result: ResultMessage) -> None:
        """Hold a reply for its handle: only for a job of this client's still awaited (a
        job of someone else's naming this queue, or a duplicate, is dropped)."""
        if result.job_id not in self._pending:
            return
        earlier = self._arrived.get(result.job_id)
        if earlier is None or (earlier.status == "failed" and result.status == "done"):
            self._arrived[result.job_id] = result

    def _reply_inbox(self) -> ReplyInbox:
        if self._inbox is None:
            self._inbox = self.parts.open_inbox(self.client_id)
        return self._inbox

    def _input_url(self, input: str, job_id: str) -> str:
        if input.startswith(S3_SCHEME):
            return input
        path = Path(input)
        if not path.is_file():
            raise ClientError(f"input {input}: no such file (give a local file or an s3:// URL)")
        url = f"{S3_SCHEME}{self.parts.bucket}/uploads/{job_id}/{path.name}"
        stored = self.parts.storage.input(url)
        try:
            stored.store.write(stored.key, path.read_bytes(), job_id)
        except (StorageError, OSError) as exc:
            raise ClientError(f"cannot upload {input} to {url}: {exc}") from exc
        return url

    def _default_output(self, source: str, ops: Sequence[ImageOp], job_id: str) -> str:
        converts = [op for op in ops if isinstance(op, Convert)]
        suffix = PurePosixPath(source).suffix.lower()
        if converts:
            suffix = f".{converts[-1].format.replace('jpeg', 'jpg')}"
        elif suffix not in FORMATS_BY_SUFFIX:  # a GIF, say: written as a PNG
            suffix = ".png"
        return f"{S3_SCHEME}{self.parts.bucket}/outputs/{job_id}{suffix}"


def as_op(op: OpLike) -> ImageOp:
    """A model, a dict (``{"op": "thumbnail", "size": 256}``) or a short form."""
    if isinstance(op, str):
        return parse_op(op)
    if isinstance(op, dict):
        return validate_op(op)
    return op
