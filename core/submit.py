"""Replaying a trace's timing onto the jobs queue.

Each job is published at its arrival offset divided by ``speed`` and stamped
with the time it was submitted. A ``simulate`` job's service time is divided
too, so ``--speed 20`` plays a 20-minute trace in one minute with the same
shape of load. Image jobs keep their operations (real work cannot be sped up).
"""

from __future__ import annotations

from collections.abc import Callable

from imgproc.core.clock import Clock
from imgproc.core.messages import JobMessage
from imgproc.core.ports import JobPublisher
from imgproc.core.trace import Trace


def job_message(trace: Trace, index: int, submitted_at: float, speed: float,
                prefix: str) -> JobMessage:
    job = trace.job(index)
    service = job.service_s
    if service is not None and job.simulated:
        service = service / speed
    return JobMessage(
        job_id=f"{prefix}{job.id}", submitted_at=submitted_at, service_s=service, user=job.user,
        ops=list(job.ops), input=job.input, output=job.output,
    )


class TraceSubmission:
    """A trace's jobs, published when their time comes: on a clock ``speed`` times faster
    than the trace's, from ``start``.

    Whoever drives it calls :meth:`publish_due` when it likes (a replay's loop, a thread
    that sleeps until :attr:`next_due_at`); a job is published once, at or after its time.
    """

    def __init__(self, trace: Trace, publisher: JobPublisher, start: float, speed: float = 1.0,
                 prefix: str = "",
                 on_submit: Callable[[JobMessage], None] | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.trace = trace
        self.publisher = publisher
        self.start = start
        self.speed = speed
        self.prefix = prefix
        self.on_submit = on_submit
        self.submitted = 0

    @property
    def done(self) -> bool:
        return self.submitted >= len(self.trace)

    @property
    def next_due_at(self) -> float | None:
        """When the next job is due, on the driver's clock; None once every job is out."""
        if self.done:
            return None
        return self.start + float(self.trace.arrival_s[self.submitted]) / self.speed

    def publish_due(self, now: float) -> int:
        """Publish every job due by ``now`` (stamped ``now``); returns how many."""
        published = 0
        while (due := self.next_due_at) is not None and due <= now:
            message = job_message(self.trace, self.submitted, now, self.speed, self.prefix)
            self.publisher.publish(message)
            self.submitted += 1
            published += 1
            if self.on_submit is not None:
                self.on_submit(message)
        return published


def submit_trace(
    trace: Trace,
    publisher: JobPublisher,
    clock: Clock,
    speed: float = 1.0,
    prefix: str = "",
    should_stop: Callable[[], bool] = lambda: False,
    on_submit: Callable[[JobMessage], None] | None = None,
) -> int:
    """Publish every job on time, sleeping on ``clock`` in between; returns how many were
    published."""
    submission = TraceSubmission(trace, publisher, clock.now(), speed, prefix, on_submit)
    while (due := submission.next_due_at) is not None:
        wait = due - clock.now()
        if wait > 0:
            clock.sleep(wait)
        if should_stop():
            break
        submission.publish_due(clock.now())
    return submission.submitted
