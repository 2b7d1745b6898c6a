"""queuesize (seed): up past 20 waiting jobs if not shrinking and none starting; down at 5."""

import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.core.policies.queuesize import SPEC


@pytest.mark.parametrize(
    "previous, now, expected",
    [
        pytest.param(0, dict(running=0), 1, id="starts one when there is no machine"),
        pytest.param(21, dict(ready=25, running=2), 3, id="adds one for a long growing queue"),
        pytest.param(25, dict(ready=25, running=2), 3, id="adds one for a long queue that held"),
        pytest.param(30, dict(ready=25, running=2), 2, id="holds while a long queue shrinks"),
        pytest.param(10, dict(ready=21, running=2), 3, id="adds one at 21 waiting jobs"),
        pytest.param(10, dict(ready=20, running=2), 2, id="holds at exactly 20 waiting jobs"),
        pytest.param(
            21, dict(ready=25, running=2, booting=1), 3, id="holds while a worker is booting"
        ),
        pytest.param(
            21, dict(ready=25, running=2, preparing=1), 3, id="holds while a worker is preparing"
        ),
        pytest.param(
            21, dict(ready=25, in_flight=9, running=2), 3, id="counts only the ready jobs"
        ),
        pytest.param(9, dict(ready=5, running=2), 1, id="removes one at 5 waiting jobs"),
        pytest.param(9, dict(ready=6, running=2), 2, id="holds at 6 waiting jobs"),
        pytest.param(
            9, dict(ready=0, running=2, draining=1), 2, id="holds while a worker is draining"
        ),
        pytest.param(9, dict(ready=0, running=1), 1, id="keeps the last running worker"),
        pytest.param(
            9, dict(ready=0, running=1, booting=1), 2, id="does not count booting as running"
        ),
    ],
)
def test_compares_the_queue_with_its_previous_sample(observe, previous, now, expected):
    policy = SPEC.build()
    policy.decide(observe(ready=previous, running=2, now=0.0))
    decision = policy.decide(observe(now=10.0, **now))
    assert decision.desired == expected
    assert decision.reason


def test_first_sample_compares_with_an_empty_queue(observe):
    assert SPEC.build().decide(observe(ready=30, running=1)).desired == 2


@pytest.mark.parametrize(
    "params, problem",
    [
        pytest.param({"down_at_most": 20}, "below", id="down threshold not below the up one"),
        pytest.param({"up_above": -1}, "up_above", id="negative threshold"),
        pytest.param({"size": 3}, "size", id="unknown parameter"),
    ],
)
def test_rejects_bad_parameters(params, problem):
    with pytest.raises(ConfigurationError, match=problem):
        SPEC.build(params)
