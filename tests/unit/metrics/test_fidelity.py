"""Live against simulated: each compared metric's relative difference and verdict."""

from __future__ import annotations

import math

import pytest

from imgproc.core.metrics.fidelity import as_json, differences, relative_difference


def test_the_difference_is_relative_to_the_simulated_value():
    assert relative_difference(10.0, 11.0) == pytest.approx(0.1)
    assert relative_difference(10.0, 8.0) == pytest.approx(-0.2)
    assert relative_difference(0.0, 0.0) == 0.0
    assert relative_difference(0.0, 1.0) == math.inf
    assert relative_difference(None, 1.0) is None


def test_the_goals_metrics_are_judged_against_the_tolerance():
    sim = {"response_p95_s": 2.0, "vm_seconds": 1000.0, "machines_peak": 10}
    live = {"response_p95_s": 2.1, "vm_seconds": 1200.0, "machines_peak": 10}

    rows = {r.metric: r for r in differences(sim, live, tolerance=0.1)}

    assert rows["response_p95_s"].within and rows["response_p95_s"].goal
    assert not rows["vm_seconds"].within and rows["vm_seconds"].goal
    assert rows["machines_peak"].within
    assert not rows["response_p50_s"].within and not rows["response_p50_s"].goal  # unknown


def test_as_json_keeps_every_metric_and_turns_infinite_into_null():
    rows = differences({"vm_seconds": 0.0}, {"vm_seconds": 5.0})

    out = as_json(rows)

    assert out["vm_seconds"] == {"simulated": 0.0, "live": 5.0, "relative": None, "goal": True,
                                 "within": False}
