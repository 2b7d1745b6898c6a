"""constantsize (seed): keep a fixed number of running workers."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from imgproc.core.observation import Decision, Observation
from imgproc.core.policies.base import PolicyParams, PolicySpec


class ConstantSizeParams(PolicyParams):
    size: int = Field(default=5, ge=1, description="workers to keep running")


class ConstantSize:
    """Start workers until ``size`` are running; never scale down.

    As in the seed, machines still starting count towards the goal, so it asks
    for exactly the missing ones (the scaler caps how many boot at once).
    """

    name: ClassVar[str] = "constantsize"

    def __init__(self, params: ConstantSizeParams) -> None:
        self.params = params

    def decide(self, obs: Observation) -> Decision:
        if obs.total < self.params.size:
            return Decision(self.params.size, f"{obs.running} running < {self.params.size}")
        return Decision.hold(obs, f"{self.params.size} workers kept")


SPEC = PolicySpec(
    name=ConstantSize.name,
    summary="keep a fixed number of workers (seed)",
    params=ConstantSizeParams,
    factory=ConstantSize,
)
