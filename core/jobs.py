"""Jobs as traces describe them."""

from __future__ import annotations

from dataclasses import dataclass

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

