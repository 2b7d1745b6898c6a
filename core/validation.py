"""pydantic's validation errors told one way: where (a dotted field path) and what."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails


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
