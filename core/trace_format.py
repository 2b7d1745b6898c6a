"""Reading workload traces: the seed's format and our own JSON lines.

Parsing is pure (lines in, :class:`Trace` out) so it is tested without files. This is the
exact path, line by line; a whole file is read through :mod:`imgproc.core.trace_fast`,
whose fast path takes valid files and leaves the others to :func:`parse_trace`.

Our format, one JSON object a line::

    {"id": "j1", "at": 0.2, "service_s": 0.19, "user": "normal"}
    {"id": "j2", "at": 0.4, "user": "demo", "input": "in/a.jpg", "output": "out/a.jpg",
     "ops": [{"op": "thumbnail", "size": 256}], "service_s": 0.08}

``at`` is seconds from the start of the trace (non-decreasing, at most a
year); ``service_s`` is the recorded service time (at most 30 days), required
for jobs without ``ops``. Every number must be finite.

The seed's format (SEED.md) is read unchanged: ``size`` and ``jobInterupt``
are microseconds, the latter the wait *before* submitting the job.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from imgproc.core.errors import TraceError, TraceValidationFailed
from imgproc.core.image_ops import ImageOp
from imgproc.core.trace import JobExtras, Trace
from imgproc.core.validation import MAX_SERVICE_S, MAX_TRACE_S, error_location

TraceFormat = Literal["auto", "jsonl", "seed"]
WHOLE_LINE = "<line>"


class TraceLine(BaseModel):
    """One job in our JSON-lines format.

    Fields are strict (a quoted number or a boolean is not a number), and the
    cross-field rules are field validators so that errors name the field.
    ``ops`` precedes the fields whose rules depend on it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200, strict=True)
    at: float = Field(ge=0, le=MAX_TRACE_S, allow_inf_nan=False, strict=True)
    user: str = Field(default="default", min_length=1, max_length=100, strict=True)
    ops: list[ImageOp] = Field(default_factory=list)
    service_s: float | None = Field(
        default=None, ge=0, le=MAX_SERVICE_S, allow_inf_nan=False, strict=True,
        validate_default=True,
    )
    input: str | None = Field(default=None, min_length=1, strict=True, validate_default=True)
    output: str | None = Field(default=None, min_length=1, strict=True, validate_default=True)

    @field_validator("service_s")
    @classmethod
    def _service_needed_without_ops(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None and not info.data.get("ops"):
            raise PydanticCustomError(
                "service_needed", "expected seconds (a number >= 0): a job without 'ops' needs it"
            )
        return value

    @field_validator("input", "output")
    @classmethod
    def _paths_needed_with_ops(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("ops"):
            raise PydanticCustomError("path_needed", "expected a path: a job with 'ops' needs it")
        return value


class SeedLine(BaseModel):
    """One job in the 2012 seed's format (times in microseconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str = Field(min_length=1, strict=True)
    image_path: str = Field(strict=True)
    size: float = Field(ge=0, le=MAX_SERVICE_S * 1e6, allow_inf_nan=False, strict=True)
    submitTime: float | None = Field(default=None, allow_inf_nan=False, strict=True)
    jobInterupt: float = Field(ge=0, le=MAX_TRACE_S * 1e6, allow_inf_nan=False, strict=True)


@dataclass
class ParsedTrace:
    """A trace and, when invalid lines were allowed, the ones left out."""

    trace: Trace
    skipped: list[TraceError] = field(default_factory=list)


def detect_format(first_line: str) -> Literal["jsonl", "seed"]:
    return "seed" if '"jobInterupt"' in first_line else "jsonl"


def parse_trace(
    lines: Iterable[str],
    source: str,
    fmt: TraceFormat = "auto",
    skip_invalid: bool = False,
) -> ParsedTrace:
    """Parse and validate every line; reject the whole trace on any bad line.

    With ``skip_invalid`` the bad lines are left out and listed instead.
    """
    builder = _TraceBuilder(source)
    errors: list[TraceError] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        if fmt == "auto":
            fmt = detect_format(text)
        try:
            builder.add(number, text, fmt)
        except TraceError as err:
            errors.append(err)
    if errors and not skip_invalid:
        raise TraceValidationFailed(source, errors)
    return ParsedTrace(builder.build(), errors)


class _TraceBuilder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.stem = PurePath(source).stem or "job"
        self.ids: list[str] = []
        self.arrivals: list[float] = []
        self.services: list[float] = []
        self.users: list[str] = []
        self.extras: dict[int, JobExtras] = {}
        self.seen_ids: set[str] = set()
        self.seed_clock_us = 0.0

    def add(self, number: int, text: str, fmt: str) -> None:
        data = self._decode(number, text)
        if fmt == "seed":
            self._add_seed(number, data)
        else:
            self._add_ours(number, data)

    def _decode(self, number: int, text: str) -> dict:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceError(
                self.source, number, WHOLE_LINE,
                f"expected a JSON object, got invalid JSON ({exc.msg})"
            ) from exc
        except ValueError as exc:  # an integer past Python's digit limit for int()
            raise TraceError(
                self.source, number, WHOLE_LINE,
                f"expected numbers of a readable length, got one too long ({exc})"
            ) from exc
        if not isinstance(data, dict):
            raise TraceError(
                self.source, number, WHOLE_LINE,
                f"expected a JSON object, got {type(data).__name__}"
            )
        return data

    def _validate(self, model: type[BaseModel], number: int, data: dict) -> BaseModel:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = error_location(first, WHOLE_LINE)
            raise TraceError(self.source, number, where, _describe(first, model)) from exc

    def _add_seed(self, number: int, data: dict) -> None:
        line = self._validate(SeedLine, number, data)
        assert isinstance(line, SeedLine)
        self.seed_clock_us += line.jobInterupt
        if self.seed_clock_us > MAX_TRACE_S * 1e6:
            raise TraceError(self.source, number, "jobInterupt",
                             f"expected arrivals within a year ({MAX_TRACE_S:.0f} s) of the start")
        job_id = f"{self.stem}-{number:06d}"
        self._append(number, job_id, self.seed_clock_us / 1e6, line.size / 1e6, line.user_id)

    def _add_ours(self, number: int, data: dict) -> None:
        line = self._validate(TraceLine, number, data)
        assert isinstance(line, TraceLine)
        if line.id in self.seen_ids:
            raise TraceError(
                self.source, number, "id", f"expected a unique id, '{line.id}' is repeated"
            )
        if self.arrivals and line.at < self.arrivals[-1]:
            raise TraceError(
                self.source, number, "at",
                f"expected arrivals in order: {line.at} is before the previous {self.arrivals[-1]}",
            )
        service = math.nan if line.service_s is None else line.service_s
        index = self._append(number, line.id, line.at, service, line.user)
        if line.ops or line.input or line.output:
            self.extras[index] = JobExtras(tuple(line.ops), line.input, line.output)

    def _append(self, number: int, job_id: str, at: float, service: float, user: str) -> int:
        self.seen_ids.add(job_id)
        self.ids.append(job_id)
        self.arrivals.append(at)
        self.services.append(service)
        self.users.append(user)
        return len(self.ids) - 1

    def build(self) -> Trace:
        return Trace(
            name=self.stem,
            ids=self.ids,
            arrival_s=np.asarray(self.arrivals, dtype=float),
            service_s=np.asarray(self.services, dtype=float),
            users=self.users,
            extras=self.extras,
        )


def _describe(error: ErrorDetails, model: type[BaseModel]) -> str:
    """A pydantic error as the problem and what was expected instead."""
    if error["type"] == "missing":
        return "expected a value: the field is required"
    if error["type"] == "extra_forbidden":
        return f"unknown field; expected only: {', '.join(model.model_fields)}"
    if error["type"] in ("service_needed", "path_needed"):
        return error["msg"]
    return f"{error['msg']} (got {error.get('input')!r})"


def job_to_line(trace: Trace, index: int) -> dict:
    """One job as a dict of our JSON-lines format (for writing traces)."""
    job = trace.job(index)
    line: dict = {"id": job.id, "at": round(job.arrival_s, 6)}
    if job.service_s is not None:
        line["service_s"] = round(job.service_s, 6)
    line["user"] = job.user
    if job.ops:
        line["ops"] = [op.model_dump() for op in job.ops]
    if job.input:
        line["input"] = job.input
    if job.output:
        line["output"] = job.output
    return line
