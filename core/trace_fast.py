"""Reading a whole trace file's bytes: a fast path for valid files, the exact one otherwise.

A million-job trace spent most of its reading time in ``json.loads`` and pydantic, line
by line. Here msgspec decodes each line in C against structs that state the same rules
as :class:`~imgproc.core.trace_format.TraceLine` and
:class:`~imgproc.core.trace_format.SeedLine`, and the rules between lines (unique ids,
arrivals in order, the seed's clock within a year) are checked on the columns.

The fast path accepts only what the exact path accepts, with the same values, and never
reports an error itself: a line msgspec does not take goes through pydantic alone (a line
with image operations or paths does, and is kept if valid); a line pydantic rejects too,
or a rule between lines broken, sends the whole file to the exact path,
:func:`~imgproc.core.trace_format.parse_trace`, which alone names bad lines. So a valid
file gives the same :class:`Trace` both ways, and an invalid one the same errors as
before; ``tests/unit/test_trace_fast.py`` holds the two paths to that.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from itertools import accumulate
from pathlib import PurePath
from typing import Annotated

import msgspec
import numpy as np
from msgspec import Meta
from pydantic import ValidationError

from imgproc.core.trace import JobExtras, Trace
from imgproc.core.trace_format import (
    ParsedTrace,
    TraceFormat,
    TraceLine,
    detect_format,
    parse_trace,
)
from imgproc.core.validation import MAX_SERVICE_S, MAX_TRACE_S


class _PlainLine(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A job of our format without ops or paths: :class:`TraceLine`'s rules for it.

    msgspec, like pydantic in strict mode, takes an integer for a float and refuses a
    boolean, a quoted number, NaN and infinities; its lengths count code points.
    """

    id: Annotated[str, Meta(min_length=1, max_length=200)]
    at: Annotated[float, Meta(ge=0, le=MAX_TRACE_S)]
    service_s: Annotated[float, Meta(ge=0, le=MAX_SERVICE_S)]
    user: Annotated[str, Meta(min_length=1, max_length=100)] = "default"


class _SeedLine(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """:class:`~imgproc.core.trace_format.SeedLine`'s rules."""

    user_id: Annotated[str, Meta(min_length=1)]
    image_path: str
    size: Annotated[float, Meta(ge=0, le=MAX_SERVICE_S * 1e6)]
    jobInterupt: Annotated[float, Meta(ge=0, le=MAX_TRACE_S * 1e6)]
    submitTime: float | None = None


def parse_trace_data(
    data: bytes, source: str, fmt: TraceFormat = "auto", skip_invalid: bool = False
) -> ParsedTrace:
    """Parse a whole trace file's bytes as :func:`parse_trace` parses its lines.

    Raises :class:`UnicodeDecodeError` when ``data`` is not UTF-8, whatever its lines, as
    reading the file as text did.
    """
    data.decode("utf-8")  # only checked here: msgspec leaves the bytes of an ``ops`` unread
    trace = fast_trace(data, source, fmt)
    if trace is not None:
        return ParsedTrace(trace)
    lines = io.StringIO(data.decode("utf-8"), newline=None)  # as open() splits them
    return parse_trace(lines, source, fmt, skip_invalid)


def fast_trace(data: bytes, source: str, fmt: TraceFormat = "auto") -> Trace | None:
    """The trace in ``data`` (valid UTF-8), or None when the exact path must decide.

    Lines split as a text file's do (``\\n``, ``\\r\\n`` or ``\\r``); a blank line is
    skipped but counted, since the seed's job ids are line numbers.
    """
    lines = data.splitlines()
    if fmt == "auto":
        first = next((raw for raw in lines if raw.strip()), b"")
        fmt = detect_format(first.decode("utf-8").strip())
    stem = PurePath(source).stem or "job"
    try:
        if fmt == "seed":
            return _seed_trace(lines, stem)
        return _our_trace(lines, stem)
    except (msgspec.DecodeError, ValidationError, ValueError):  # ValueError: json.loads
        return None


def _our_trace(lines: list[bytes], stem: str) -> Trace | None:
    decode = msgspec.json.Decoder(_PlainLine).decode
    try:
        rows: list[_PlainLine | TraceLine] = [decode(raw) for raw in lines]
        extras: dict[int, JobExtras] = {}
    except msgspec.DecodeError:  # a blank line, one with ops or paths, or a bad one
        rows, extras = _rows_one_by_one(lines, decode)
    ids = [row.id for row in rows]
    arrivals = np.array([row.at for row in rows], dtype=float)
    if len(set(ids)) != len(ids) or bool(np.any(arrivals[1:] < arrivals[:-1])):
        return None
    return Trace(
        name=stem,
        ids=ids,
        arrival_s=arrivals,
        service_s=np.array([row.service_s for row in rows], dtype=float),  # None: NaN
        users=[row.user for row in rows],
        extras=extras,
    )


def _rows_one_by_one(
    lines: list[bytes], decode: Callable[[bytes], _PlainLine]
) -> tuple[list[_PlainLine | TraceLine], dict[int, JobExtras]]:
    """Each line as a plain job, or else as the exact path takes it (with its ops and paths,
    if valid); blank lines skipped."""
    rows: list[_PlainLine | TraceLine] = []
    extras: dict[int, JobExtras] = {}
    for raw in lines:
        try:
            rows.append(decode(raw))
        except msgspec.DecodeError:
            if not raw.strip():
                continue
            line = TraceLine.model_validate(json.loads(raw.decode("utf-8")))
            if line.ops or line.input or line.output:
                extras[len(rows)] = JobExtras(tuple(line.ops), line.input, line.output)
            rows.append(line)
    return rows, extras


def _seed_trace(lines: list[bytes], stem: str) -> Trace | None:
    """Arrivals add the waits up one by one from 0.0, in the order the exact path does."""
    decode = msgspec.json.Decoder(_SeedLine).decode
    numbers = [number for number, raw in enumerate(lines, start=1) if raw.strip()]
    rows = [decode(lines[number - 1]) for number in numbers]
    clock_us = list(accumulate((row.jobInterupt for row in rows), initial=0.0))[1:]
    if clock_us and clock_us[-1] > MAX_TRACE_S * 1e6:
        return None
    return Trace(
        name=stem,
        ids=[f"{stem}-{number:06d}" for number in numbers],
        arrival_s=np.array(clock_us, dtype=float) / 1e6,
        service_s=np.array([row.size for row in rows], dtype=float) / 1e6,
        users=[row.user_id for row in rows],
    )
