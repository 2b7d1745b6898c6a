"""A workload trace held in columns.

Columns (not a list of objects) because a generated trace may hold a million
jobs and the simulator walks arrival and service times as plain arrays.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from imgproc.core.image_ops import ImageOp
from imgproc.core.jobs import Job


@dataclass(frozen=True)
class JobExtras:
    """The rarely present parts of a job: image operations and paths."""

    ops: tuple[ImageOp, ...]
    input: str | None
    output: str | None


@dataclass
class Trace:
    """Jobs in arrival order.

    ``service_s`` holds NaN for a job whose service time is unknown (image
    operations without a recorded time); the simulator refuses such traces.
    """

    name: str
    ids: list[str]
    arrival_s: np.ndarray
    service_s: np.ndarray
    users: list[str]
    extras: dict[int, JobExtras] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if not (len(self.arrival_s) == len(self.service_s) == len(self.users) == n):
            raise ValueError("trace columns differ in length")

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Job]:
        return (self.job(i) for i in range(len(self)))

    def job(self, index: int) -> Job:
        extra = self.extras.get(index)
        service = float(self.service_s[index])
        return Job(
            id=self.ids[index],
            arrival_s=float(self.arrival_s[index]),
            service_s=None if np.isnan(service) else service,
            user=self.users[index],
            ops=extra.ops if extra else (),
            input=extra.input if extra else None,
            output=extra.output if extra else None,
        )

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1]) if len(self) else 0.0

    @property
    def work_s(self) -> float:
        """Total known service time: the least VM time any policy can use."""
        return float(np.nansum(self.service_s))

    def has_unknown_service(self) -> bool:
        return bool(np.isnan(self.service_s).any())

    @classmethod
    def from_jobs(cls, name: str, jobs: list[Job]) -> Trace:
        extras = {
            i: JobExtras(j.ops, j.input, j.output)
            for i, j in enumerate(jobs)
            if j.ops or j.input or j.output
        }
        return cls(
            name=name,
            ids=[j.id for j in jobs],
            arrival_s=np.array([j.arrival_s for j in jobs], dtype=float),
            service_s=np.array(
                [np.nan if j.service_s is None else j.service_s for j in jobs], dtype=float
            ),
            users=[j.user for j in jobs],
            extras=extras,
        )
