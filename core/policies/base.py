"""The policy interface: an observation in, a desired fleet size out.

Each policy lives in its own module with a typed, validated parameter model
(a frozen pydantic model) and registers a :class:`PolicySpec`. Policies keep
their own state (moving averages, cooldowns) but never read a clock: the time
is ``Observation.now``. Pauses are cooldowns: the policy holds until the time
has passed; nothing blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from imgproc.core.errors import ConfigurationError
from imgproc.core.observation import Decision, Observation
from imgproc.core.validation import describe_errors


class PolicyParams(BaseModel):
    """Base of every policy's parameters: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Policy(Protocol):
    """Decides, every round, how many workers there should be."""

    name: ClassVar[str]

    def decide(self, obs: Observation) -> Decision:
        """The desired fleet size (preparing + booting + running) for this round."""
        ...


P = TypeVar("P", bound=PolicyParams)


@dataclass(frozen=True)
class PolicySpec(Generic[P]):
    """How to list, validate and build one policy."""

    name: str
    summary: str
    params: type[P]
    factory: Any  # Callable[[P], Policy]

    def parse_params(self, values: dict[str, Any] | None) -> P:
        try:
            return self.params.model_validate(values or {})
        except ValidationError as exc:
            raise ConfigurationError(
                f"policy '{self.name}': {describe_errors(exc, 'params')}") from exc

    def build(self, values: dict[str, Any] | None = None) -> Policy:
        return self.factory(self.parse_params(values))

    def defaults(self) -> dict[str, Any]:
        return self.params().model_dump()

    def describe(self) -> list[tuple[str, str, Any, str]]:
        """(name, type, default, description) of each parameter."""
        rows = []
        for field_name, info in self.params.model_fields.items():
            annotation = getattr(info.annotation, "__name__", str(info.annotation))
            rows.append((field_name, annotation, info.default, info.description or ""))
        return rows


def start_one_if_empty(obs: Observation) -> Decision | None:
    """The seed's common rule: with no machine at all, start one."""
    if obs.total == 0:
        return Decision(1, "no machine: start one")
    return None
