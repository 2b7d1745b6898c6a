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


def submit_trace(
    trace: Trace,
    publisher: JobPublisher,
    clock: Clock,
    speed: float = 1.0,
    prefix: str = "",
    should_stop: Callable[[], bool] = lambda: False,
    on_submit: Callable[[JobMessage], None] | None = None,
) -> int:
    """Publish every job on time; returns how many were published."""
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    start = clock.now()
    for index in range(len(trace)):
        due = start + float(trace.arrival_s[index]) / speed
        wait = due - clock.now()
        if wait > 0:
            clock.sleep(wait)
        if should_stop():
            return index
        message = job_message(trace, index, clock.now(), speed, prefix)
        publisher.publish(message)
        if on_submit is not None:
            on_submit(message)
    return len(trace)
