"""A worker's loop: take one job, do it, record the result, then acknowledge.

The order is what makes a job never lost: the delivery is acknowledged only
after the result has been confirmed by the broker. A worker that dies before
that leaves the job unacknowledged, and the broker redelivers it. A message
that cannot be decoded goes to the dead-letter queue instead of bouncing
forever. A job that fails is reported as failed and the worker carries on.

A job is worked on by a runner (a thread of its own, live) while the loop's thread
keeps the source's connection alive (:meth:`JobSource.keep_alive`): without that,
a job longer than two broker heartbeats loses its connection, and the broker hands
it out again, for ever. A job past ``max_job_s`` fails with a clear error and the
worker goes on; its thread is left to end by itself (a thread cannot be killed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from typing import Protocol

from imgproc.core.clock import Clock
from imgproc.core.errors import ImgprocError, JobTooLong
from imgproc.core.executors import InlineExecutor
from imgproc.core.messages import BadMessage, JobMessage, ResultMessage
from imgproc.core.ports import Delivery, JobSource, ResultSink

log = logging.getLogger(__name__)
DEFAULT_MAX_JOB_S = 3600.0
KEEP_ALIVE_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class JobOutput:
    """What an image job wrote: its URL (or path under the output root), size in bytes,
    dimensions and format."""

    url: str
    width: int
    height: int
    format: str
    bytes_written: int


class JobExecutor(Protocol):
    """Does the work a job describes (image operations, or waiting its service time)."""

    def execute(self, job: JobMessage) -> JobOutput | None:
        """What was written, if anything; raise an ImgprocError when the job cannot be done."""
        ...


class SimulatedWork:
    """The seed's ``simulate`` operation: wait the recorded service time, at most
    ``max_job_s`` (past it the job fails, as a real one would)."""

    def __init__(self, sleep: Callable[[float], None],
                 max_job_s: float = DEFAULT_MAX_JOB_S) -> None:
        self.sleep = sleep
        self.max_job_s = max_job_s

    def execute(self, job: JobMessage) -> None:
        service_s = job.service_s or 0.0
        self.sleep(min(service_s, self.max_job_s))
        if service_s > self.max_job_s:
            raise JobTooLong(job.job_id, self.max_job_s)
        return None


class ProgressListener(Protocol):
    """Told when a job starts and ends (the registry records it live)."""

    def job_started(self, job_id: str) -> None: ...

    def working(self, job_id: str) -> None:
        """Still on ``job_id``: called about every second while a job runs."""
        ...

    def job_finished(self, job_id: str, ok: bool) -> None: ...

    def idle(self) -> None:
        """No job came within a poll: the worker is idle."""
        ...


@dataclass
class WorkerCounters:
    done: int = 0
    failed: int = 0
    dead_lettered: int = 0


class Worker:
    """Consumes jobs one at a time until told to stop."""

    def __init__(
        self,
        worker_id: str,
        source: JobSource,
        results: ResultSink,
        image_work: JobExecutor,
        simulated_work: JobExecutor,
        clock: Clock,
        listener: ProgressListener | None = None,
        *,
        runner: Executor | None = None,
        max_job_s: float = DEFAULT_MAX_JOB_S,
    ) -> None:
        self.worker_id = worker_id
        self.source = source
        self.results = results
        self.image_work = image_work
        self.simulated_work = simulated_work
        self.clock = clock
        self.listener = listener
        self.runner = runner or InlineExecutor()
        self.max_job_s = max_job_s
        self.counters = WorkerCounters()

    def run(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        """Serve jobs until ``stop`` is set; the current job always finishes first."""
        while not stop.is_set():
            self.step(poll_s)

    def step(self, timeout_s: float) -> bool:
        """Handle at most one delivery; False if none came within ``timeout_s``."""
        delivery = self.source.next_delivery(timeout_s)
        if delivery is None:
            if self.listener:
                self.listener.idle()
            return False
        try:
            job = JobMessage.decode(delivery.body)
        except BadMessage as exc:
            log.warning("dead-lettering a message: %s", exc)
            delivery.dead_letter(str(exc))
            self.counters.dead_lettered += 1
            return True
        self._serve(job, delivery)
        return True

    def _serve(self, job: JobMessage, delivery: Delivery) -> None:
        if self.listener:
            self.listener.job_started(job.job_id)
        started = self.clock.now()
        output, error = self._execute(job)
        finished = self.clock.now()
        written = {} if output is None else {
            "output": output.url, "output_bytes": output.bytes_written, "width": output.width,
            "height": output.height, "format": output.format}
        result = ResultMessage(
            job_id=job.job_id, worker=self.worker_id, submitted_at=job.submitted_at,
            started_at=started, finished_at=finished, status="failed" if error else "done",
            error=error, redelivered=delivery.redelivered, **written,
        )
        self.results.publish_result(result)
        if job.reply_to:
            self._reply(job.reply_to, result)
        delivery.ack()
        if error:
            self.counters.failed += 1
        else:
            self.counters.done += 1
        if self.listener:
            self.listener.job_finished(job.job_id, ok=error is None)

    def _reply(self, queue: str, result: ResultMessage) -> None:
        """A reply is a convenience for its client: the result is kept already, so a reply
        that cannot be sent is logged, and the job is acknowledged all the same."""
        try:
            self.results.reply(queue, result)
        except ImgprocError as exc:
            log.warning("job %s: no reply to %s (its result is kept): %s",
                        result.job_id, queue, exc)

    def _execute(self, job: JobMessage) -> tuple[JobOutput | None, str | None]:
        """What the job wrote, or why it failed."""
        executor = self.image_work if job.ops else self.simulated_work
        future = self.runner.submit(executor.execute, job)
        if not self._wait_keeping_alive(future, job.job_id):
            exc = JobTooLong(job.job_id, self.max_job_s)
            log.warning("%s", exc)
            return None, str(exc)
        try:
            return future.result(), None
        except ImgprocError as exc:
            log.info("job %s failed: %s", job.job_id, exc)
            return None, str(exc)
        except Exception as exc:  # a bad job must not kill the worker
            log.exception("job %s failed unexpectedly", job.job_id)
            return None, f"{type(exc).__name__}: {exc}"

    def _wait_keeping_alive(self, future: Future, job_id: str) -> bool:
        """Wait for ``future`` while the source's connection stays alive and the listener
        hears that the job goes on; False past the job's maximum time."""
        deadline = self.clock.now() + self.max_job_s
        while True:
            remaining = deadline - self.clock.now()
            wait([future], timeout=max(0.0, min(remaining, KEEP_ALIVE_EVERY_S)))
            if future.done():
                return True
            if remaining <= 0:
                return False
            self.source.keep_alive()
            self.results.keep_alive()
            if self.listener:
                self.listener.working(job_id)
