"""pydantic's validation errors told one way: where (a dotted field path) and what.

Also the bounds that jobs share, wherever they come from (a message, a trace
file): a number past them is a unit mistake or garbage, never a real job.
"""

from __future__ import annotations

from typing import Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

MAX_SERVICE_S: Final = 30 * 24 * 3600.0
"""A month: no image job or recorded service time comes near it; past it, a number is
garbage (or a unit mistake) that would hold a worker for good."""
MAX_TRACE_S: Final = 366 * 24 * 3600.0
"""A year: no trace's arrivals span longer."""
MAX_EPOCH_S: Final = 10_000_000_000.0
"""The year 2286: a later submission time is not a clock reading."""


def error_location(error: ErrorDetails, whole: str = "", prefix: str = "") -> str:
    """The dotted path of one error's field (under ``prefix``), or ``whole`` for the object
    itself."""
    path = ".".join(str(part) for part in error["loc"])
    if prefix:
        return f"{prefix}.{path}" if path else prefix
    return path or whole


def first_problem(exc: ValidationError, whole: str = "<value>") -> str:
    """``field: message`` of the first thing pydantic found wrong."""
    first = exc.errors()[0]
    return f"{error_location(first, whole)}: {first['msg']}"


def describe_errors(exc: ValidationError, whole: str = "<value>", prefix: str = "") -> str:
    """Every error as ``field: message``, joined by ``; ``."""
    return "; ".join(f"{error_location(e, whole, prefix)}: {e['msg']}" for e in exc.errors())
