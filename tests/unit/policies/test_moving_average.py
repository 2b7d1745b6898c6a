"""moving-average-queue-size (seed): up above an average of 5, down below 2, 60 s after a stop."""

import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.core.policies.moving_average import SPEC


def queue(*readies, running=2):
    """Observations 10 s apart with these waiting jobs and a steady fleet."""
    return [dict(now=10.0 * i, ready=r, running=running) for i, r in enumerate(readies)]


@pytest.mark.parametrize(
    "rows, expected",
    [
        pytest.param(queue(6), 3, id="adds one above an average of 5"),
        pytest.param(queue(5), 2, id="holds at an average of exactly 5"),
        pytest.param(queue(1), 1, id="removes one below an average of 2"),
        pytest.param(queue(2), 2, id="holds at an average of exactly 2"),
        pytest.param(queue(0, running=1), 1, id="keeps the last worker"),
        pytest.param(queue(0, running=0), 1, id="starts one when there is no machine"),
        pytest.param(queue(60, *[0] * 9), 3, id="averages over the last ten samples"),
        pytest.param(queue(60, *[0] * 10), 1, id="forgets samples older than ten"),
        pytest.param(queue(12, 0), 3, id="an earlier spike keeps the average up"),
    ],
)
def test_follows_the_moving_average_of_waiting_jobs(decide_all, rows, expected):
    assert decide_all(SPEC.build(), rows)[-1].desired == expected


@pytest.mark.parametrize(
    "later, expected",
    [
        pytest.param(dict(now=10.0, ready=0, running=2), 2, id="holds 10 s after a stop"),
        pytest.param(dict(now=59.0, ready=0, running=2), 2, id="holds 59 s after a stop"),
        pytest.param(dict(now=60.0, ready=0, running=2), 1, id="stops again 60 s after a stop"),
        pytest.param(
            dict(now=30.0, ready=100, running=2), 2, id="does not add during the cooldown either"
        ),
        pytest.param(
            dict(now=30.0, ready=0, running=0), 1, id="starts one during the cooldown if empty"
        ),
    ],
)
def test_cools_down_for_60_s_after_a_stop(observe, later, expected):
    policy = SPEC.build()
    assert policy.decide(observe(now=0.0, ready=0, running=3)).desired == 2
    assert policy.decide(observe(**later)).desired == expected


@pytest.mark.parametrize(
    "params, problem",
    [
        pytest.param({"window": 0}, "window", id="empty window"),
        pytest.param({"down_below": 6.0}, "exceeds", id="down threshold above the up one"),
        pytest.param({"cooldown_s": -1}, "cooldown_s", id="negative cooldown"),
    ],
)
def test_rejects_bad_parameters(params, problem):
    with pytest.raises(ConfigurationError, match=problem):
        SPEC.build(params)
