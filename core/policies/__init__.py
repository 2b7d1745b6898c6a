"""The registry of scaling policies, in the order ``imgproc policies`` lists them.

To add a policy: write ``core/policies/<name>.py`` with a parameter model, a
class with ``name`` and ``decide``, and a ``SPEC``; add it to ``_SPECS``; add
table-driven tests. See docs/policies.md.
"""

from __future__ import annotations

from typing import Any

from imgproc.core.errors import UnknownPolicy
from imgproc.core.policies import (
    constantsize,
    moving_average,
    queuerate,
    queuesize,
    slo,
    target_tracking,
    time_ratio,
)
from imgproc.core.policies.base import Policy, PolicySpec

_SPECS: tuple[PolicySpec, ...] = (
    constantsize.SPEC,
    queuesize.SPEC,
    moving_average.SPEC,
    queuerate.SPEC,
    time_ratio.SPEC,
    target_tracking.SPEC,
    slo.SPEC,
)


def policy_specs() -> tuple[PolicySpec, ...]:
    """Every policy, in listing order (number keys in the console follow it)."""
    return _SPECS


def policy_names() -> list[str]:
    return [spec.name for spec in _SPECS]


def get_spec(name: str) -> PolicySpec:
    for spec in _SPECS:
        if spec.name == name:
            return spec
    raise UnknownPolicy(name, policy_names())


def build_policy(name: str, params: dict[str, Any] | None = None) -> Policy:
    """A new policy object with validated parameters (defaults for the rest)."""
    return get_spec(name).build(params)


def policy_arguments(name: str, params: dict[str, Any], slo_s: float,
                     boot_delay_s: float) -> dict[str, Any]:
    """``params``, plus the run's objective and boot delay for a policy that takes them (so
    that ``--slo`` and ``--boot-delay`` reach it) unless ``params`` sets them."""
    arguments = dict(params)
    fields = get_spec(name).params.model_fields
    if "slo_s" in fields:
        arguments.setdefault("slo_s", slo_s)
    if "boot_delay_s" in fields:
        arguments.setdefault("boot_delay_s", boot_delay_s)
    return arguments
