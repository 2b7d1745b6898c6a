"""time (seed): up when response/service > 5, down when < 2, 60 s after a stop."""

import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.core.policies.time_ratio import SPEC


def timed(response, service=0.25, running=2, now=0.0):
    return dict(now=now, mean_response_s=response, mean_service_s=service, running=running)


@pytest.mark.parametrize(
    "now, expected",
    [
        pytest.param(timed(1.5), 3, id="adds one when jobs take 6 times their work"),
        pytest.param(timed(1.25), 2, id="holds at a ratio of exactly 5"),
        pytest.param(timed(0.25), 1, id="removes one when no job waits"),
        pytest.param(timed(0.5), 2, id="holds at a ratio of exactly 2"),
        pytest.param(timed(0.25, running=1), 1, id="keeps the last worker"),
        pytest.param(timed(None, None), 2, id="holds when no job finished"),
        pytest.param(timed(None, None, running=0), 1, id="starts one when there is no machine"),
    ],
)
def test_follows_the_response_to_service_ratio(observe, now, expected):
    decision = SPEC.build().decide(observe(**now))
    assert decision.desired == expected
    assert decision.reason


@pytest.mark.parametrize(
    "later, expected",
    [
        pytest.param(timed(0.25, now=59.0), 2, id="holds 59 s after a stop"),
        pytest.param(timed(0.25, now=60.0), 1, id="stops again 60 s after a stop"),
        pytest.param(timed(2.5, now=30.0), 2, id="does not add during the cooldown"),
    ],
)
def test_cools_down_for_60_s_after_a_stop(observe, later, expected):
    policy = SPEC.build()
    assert policy.decide(observe(**timed(0.25, running=3))).desired == 2
    assert policy.decide(observe(**later)).desired == expected


@pytest.mark.parametrize(
    "params, problem",
    [
        pytest.param({"up_above": 0.5}, "up_above", id="ratio below one"),
        pytest.param({"down_below": 6.0}, "exceeds", id="down threshold above the up one"),
        pytest.param({"cooldown_s": -1}, "cooldown_s", id="negative cooldown"),
    ],
)
def test_rejects_bad_parameters(params, problem):
    with pytest.raises(ConfigurationError, match=problem):
        SPEC.build(params)
