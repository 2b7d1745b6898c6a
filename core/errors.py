"""The project's own error hierarchy.

Library exceptions are translated into these at the edges (adapters), chained
with ``from exc``, so callers handle one small set of types.
"""

from __future__ import annotations


class ImgprocError(Exception):
    """Base of every error imgproc raises on purpose."""


class ConfigurationError(ImgprocError):
    """A setting or a policy parameter has a value that cannot be used."""


class TraceError(ImgprocError):
    """A workload trace line is invalid.

    Carries where (file and 1-based line), which field, and what was expected,
    so an operator can fix the file without guessing.
    """

    def __init__(self, source: str, line: int, field: str, problem: str) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.problem = problem
        super().__init__(f"{source}:{line}: field '{field}': {problem}")


class TraceValidationFailed(ImgprocError):
    """A whole trace was rejected; ``errors`` lists every bad line found."""

    def __init__(self, source: str, errors: list[TraceError]) -> None:
        self.source = source
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(
            f"{source}: {len(errors)} invalid line(s); nothing was replayed\n{shown}{more}"
        )


class IllegalTransition(ImgprocError):
    """A machine was asked to move between two states that are not connected."""

    def __init__(self, machine_id: str, current: str, requested: str, allowed: list[str]) -> None:
        self.machine_id = machine_id
        self.current = current
        self.requested = requested
        self.allowed = allowed
        allowed_text = ", ".join(allowed) if allowed else "none (terminal state)"
        super().__init__(
            f"machine {machine_id}: cannot go from '{current}' to '{requested}'; "
            f"allowed from '{current}': {allowed_text}"
        )


class ProviderError(ImgprocError):
    """A machine could not be started or stopped by its provider."""


class UnknownMachine(ImgprocError):
    """A machine id that the registry does not hold."""

    def __init__(self, machine_id: str) -> None:
        self.machine_id = machine_id
        super().__init__(f"unknown machine: {machine_id}")


class UnknownPolicy(ConfigurationError):
    """A policy name that is not registered."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown policy '{name}'; known policies: {', '.join(known)}")


class JobTooLong(ImgprocError):
    """A job ran past the worker's maximum job time (``worker.max_job_s``)."""

    def __init__(self, job_id: str, max_job_s: float) -> None:
        self.job_id = job_id
        self.max_job_s = max_job_s
        super().__init__(f"job {job_id} ran past the maximum job time of {max_job_s:g} s "
                         f"(setting worker.max_job_s); it was abandoned")
