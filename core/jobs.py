"""Jobs and their results."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from imgproc.core.image_ops import ImageOp


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of work as a trace describes it.

    ``arrival_s`` is the offset from the start of the trace. A job without
    ``ops`` is a ``simulate`` job: the worker waits ``service_s`` seconds.
    """

    id: str
    arrival_s: float
    service_s: float | None
    user: str = "default"
    ops: tuple[ImageOp, ...] = ()
    input: str | None = None
    output: str | None = None

    @property
    def simulated(self) -> bool:
        return not self.ops


class JobStatus(str, Enum):
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a worker reports when it has finished (or failed) a job."""

    job_id: str
    worker: str
    submitted_at: float
    started_at: float
    finished_at: float
    status: JobStatus
    error: str | None = None

    @property
    def response_s(self) -> float:
        return self.finished_at - self.submitted_at

    @property
    def service_s(self) -> float:
        return self.finished_at - self.started_at
