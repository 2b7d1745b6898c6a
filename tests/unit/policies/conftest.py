"""Observations for policy tests: a quiet system unless a test says otherwise.

``observe(**changes)`` builds an Observation with one running worker, nothing
queued and nothing measured; ``decide_all(policy, rows)`` feeds a policy a
sequence of such observations and returns its decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from imgproc.core.observation import Decision, Observation

QUIET: dict[str, Any] = dict(
    now=0.0, interval_s=10.0, ready=0, in_flight=0, arrival_rate=0.0, completion_rate=0.0,
    mean_service_s=None, mean_response_s=None, preparing=0, booting=0, running=1,
    draining=0, busy=0,
)


def _observe(**changes: Any) -> Observation:
    unknown = set(changes) - set(QUIET)
    if unknown:
        raise TypeError(f"not an Observation field: {sorted(unknown)}")
    return Observation(**{**QUIET, **changes})


def _decide_all(policy: Any, rows: Iterable[dict[str, Any]]) -> list[Decision]:
    return [policy.decide(_observe(**row)) for row in rows]


@pytest.fixture
def observe() -> Callable[..., Observation]:
    return _observe


@pytest.fixture
def decide_all() -> Callable[[Any, Iterable[dict[str, Any]]], list[Decision]]:
    return _decide_all
