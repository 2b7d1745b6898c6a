"""constantsize (seed): keep a fixed number of running workers."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from imgproc.core.observation import Decision, Observation
from imgproc.core.policies.base import PolicyParams, PolicySpec


class ConstantSizeParams(PolicyParams):
    size: int = Field(default=5, ge=1, description="workers to keep running")
    max_starting: int = Field(default=3, ge=1, description="at most this many preparing/booting")


class ConstantSize:
    """Start workers until ``size`` are running; never scale down.

    As in the seed, machines still starting count towards the goal, and at
    most ``max_starting`` are preparing or booting at once.
    """

    name: ClassVar[str] = "constantsize"

    def __init__(self, params: ConstantSizeParams) -> None:
        self.params = params

    def decide(self, obs: Observation) -> Decision:
        size = self.params.size
        if obs.total < size:
            room = max(0, self.params.max_starting - obs.starting)
            return Decision(min(size, obs.total + room), f"{obs.running} running < {size}")
        return Decision.hold(obs, f"{self.params.size} workers kept")


SPEC = PolicySpec(
    name=ConstantSize.name,
    summary="keep a fixed number of workers (seed)",
    params=ConstantSizeParams,
    factory=ConstantSize,
)
