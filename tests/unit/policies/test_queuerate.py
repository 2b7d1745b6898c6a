"""queuerate (seed): one worker per 1 job/s of imbalance between arrivals and completions."""

import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.core.policies.queuerate import SPEC


def rates(*pairs, running=2):
    """Observations 10 s apart with these (arrival, completion) rates."""
    return [
        dict(now=10.0 * i, arrival_rate=a, completion_rate=c, running=running)
        for i, (a, c) in enumerate(pairs)
    ]


@pytest.mark.parametrize(
    "params, rows, expected",
    [
        pytest.param({}, rates((7.0, 5.0)), 3, id="adds one when arrivals lead by 2 jobs/s"),
        pytest.param({}, rates((6.0, 5.0)), 2, id="holds when arrivals lead by exactly 1 job/s"),
        pytest.param({}, rates((5.0, 7.0)), 1, id="removes one when completions lead by 2"),
        pytest.param({}, rates((5.0, 6.0)), 2, id="holds when completions lead by exactly 1"),
        pytest.param({}, rates((0.0, 9.0), running=1), 1, id="keeps the last worker"),
        pytest.param({}, rates((0.0, 0.0), running=0), 1, id="starts one with no machine"),
        pytest.param(
            {"window": 3}, rates((8.0, 5.0), (5.0, 5.0), (5.0, 5.0)), 2,
            id="holds when the averages differ by exactly 1",
        ),
        pytest.param(
            {"window": 3}, rates((9.0, 5.0), (5.0, 5.0), (5.0, 5.0)), 3,
            id="adds one when the averages differ by more than 1",
        ),
        pytest.param(
            {"window": 2}, rates((20.0, 5.0), (5.0, 5.0), (5.0, 5.0)), 2,
            id="forgets samples older than the window",
        ),
    ],
)
def test_follows_the_averaged_rates(decide_all, params, rows, expected):
    assert decide_all(SPEC.build(params), rows)[-1].desired == expected


@pytest.mark.parametrize(
    "rows, expected",
    [
        pytest.param(
            rates((36.5, 5.0), *[(5.0, 5.0)] * 29), 3, id="a sample 29 rounds ago still counts"
        ),
        pytest.param(
            rates((40.0, 5.0), *[(5.0, 5.0)] * 30), 2, id="a sample 30 rounds ago is forgotten"
        ),
    ],
)
def test_averages_thirty_samples_by_default(decide_all, rows, expected):
    assert decide_all(SPEC.build(), rows)[-1].desired == expected


START = dict(arrival_rate=7.0, completion_rate=5.0, running=2)
STOP = dict(arrival_rate=0.0, completion_rate=5.0, running=3)
CATCHING_UP = dict(arrival_rate=0.0, completion_rate=5.0, running=3)
FALLING_BEHIND = dict(arrival_rate=9.0, completion_rate=0.0, running=2)


@pytest.mark.parametrize(
    "first, later, expected",
    [
        pytest.param(START, dict(now=50.0, **CATCHING_UP), 3, id="a stop waits 60 s after a start"),
        pytest.param(START, dict(now=60.0, **CATCHING_UP), 2, id="a stop may follow 60 s later"),
        pytest.param(START, dict(now=10.0, **FALLING_BEHIND), 3, id="a start may follow a start"),
        pytest.param(STOP, dict(now=30.0, **FALLING_BEHIND), 2, id="nothing happens after a stop"),
        pytest.param(STOP, dict(now=60.0, **FALLING_BEHIND), 3, id="it acts again 60 s later"),
    ],
)
def test_pauses_60_s_around_a_stop(observe, first, later, expected):
    policy = SPEC.build({"window": 1})
    policy.decide(observe(now=0.0, **first))
    assert policy.decide(observe(**later)).desired == expected


@pytest.mark.parametrize(
    "params, problem",
    [
        pytest.param({"window": 0}, "window", id="empty window"),
        pytest.param({"margin": -1.0}, "margin", id="negative margin"),
        pytest.param({"cooldown_s": "soon"}, "cooldown_s", id="cooldown not a number"),
    ],
)
def test_rejects_bad_parameters(params, problem):
    with pytest.raises(ConfigurationError, match=problem):
        SPEC.build(params)
