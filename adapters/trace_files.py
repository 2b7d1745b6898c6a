"""Workload trace files: reading either format, writing ours atomically.

Parsing and validation live in :mod:`imgproc.core.trace_format` (and its fast path for
valid files, :mod:`imgproc.core.trace_fast`); this module only reads and writes files,
turns OS errors into :class:`ConfigurationError` naming the path, and writes through a
temporary file so a reader never sees half a trace.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from json.encoder import encode_basestring
from pathlib import Path

from imgproc.core.errors import ConfigurationError
from imgproc.core.trace import Trace
from imgproc.core.trace_fast import parse_trace_data
from imgproc.core.trace_format import ParsedTrace, TraceFormat, job_to_line

FILE_MODE = 0o644


def read_trace(
    path: str | os.PathLike[str], fmt: TraceFormat = "auto", skip_invalid: bool = False
) -> ParsedTrace:
    """Parse the trace in ``path``; errors name the file and its lines.

    Raises :class:`ConfigurationError` when the file cannot be read, and
    :class:`~imgproc.core.errors.TraceValidationFailed` when a line is invalid
    (unless ``skip_invalid``).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise _cannot("read", path, exc.strerror or str(exc)) from exc
    try:
        return parse_trace_data(data, source=str(path), fmt=fmt, skip_invalid=skip_invalid)
    except UnicodeDecodeError as exc:
        raise _cannot("read", path, f"not UTF-8 text ({exc.reason})") from exc


def write_trace(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write ``trace`` in our JSON-lines format, replacing ``path`` atomically."""
    target = Path(path)
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise _cannot("write", path, exc.strerror or str(exc)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(_lines(trace))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, FILE_MODE)
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise _cannot("write", path, exc.strerror or str(exc)) from exc
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _cannot(action: str, path: str | os.PathLike[str], reason: str) -> ConfigurationError:
    return ConfigurationError(f"cannot {action} trace file '{path}': {reason}")


def _lines(trace: Trace) -> Iterator[str]:
    """Each job as ``job_to_line`` describes it, JSON-encoded, one a line."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    columns = zip(trace.ids, trace.arrival_s.tolist(), trace.service_s.tolist(), trace.users,
                  strict=True)
    for index, (job_id, at, service, user) in enumerate(columns):
        if index in trace.extras or math.isnan(service):
            yield encode(job_to_line(trace, index)) + "\n"
        else:
            yield _plain_line(job_id, at, service, user)


def _plain_line(job_id: str, at: float, service: float, user: str) -> str:
    """Exactly the encoded ``job_to_line`` of a job without ops or paths.

    Built from the columns directly: going through a ``Job`` and a dict per
    line made a million jobs take three times as long.
    """
    return (
        f'{{"id": {encode_basestring(job_id)}, "at": {round(at, 6)!r}, '
        f'"service_s": {round(service, 6)!r}, "user": {encode_basestring(user)}}}\n'
    )
