"""target-tracking: backlog per worker held at a target, with HPA's damping and limits."""

import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.core.policies.target_tracking import SPEC


@pytest.mark.parametrize(
    "params, now, expected",
    [
        pytest.param({}, dict(ready=80, in_flight=20, running=5), 10, id="one worker per 10 jobs"),
        pytest.param({}, dict(in_flight=40, running=2), 4, id="counts in-flight jobs as demand"),
        pytest.param({}, dict(ready=105, running=10), 10, id="holds within the 10 % tolerance"),
        pytest.param({}, dict(ready=111, running=10), 12, id="rounds up beyond the tolerance"),
        pytest.param({}, dict(ready=89, running=10), 9, id="scales down beyond the tolerance"),
        pytest.param({}, dict(ready=1000, running=2), 6, id="grows by at least 4 workers"),
        pytest.param({}, dict(ready=1000, running=10), 20, id="grows by at most 100 %"),
        pytest.param({}, dict(ready=25, running=0), 3, id="starts from an empty fleet"),
        pytest.param(
            {}, dict(ready=50, running=2, booting=3), 5, id="counts starting workers as capacity"
        ),
        pytest.param(
            {}, dict(ready=0, running=4, booting=1), 5, id="never scales down while one starts"
        ),
        pytest.param({}, dict(running=3), 0, id="goes to zero when idle"),
        pytest.param(
            {"down_percent": 50}, dict(running=10), 5, id="shrinks by at most down_percent"
        ),
        pytest.param(
            {"rate_per_worker": 5.0}, dict(arrival_rate=30.0, running=2), 6,
            id="sizes for arrivals when a rate target is set",
        ),
        pytest.param(
            {"target_per_worker": 20.0}, dict(ready=100, running=2), 5, id="uses its target"
        ),
    ],
)
def test_tracks_backlog_per_worker(observe, params, now, expected):
    decision = SPEC.build(params).decide(observe(**now))
    assert decision.desired == expected
    assert decision.reason


@pytest.mark.parametrize(
    "later, expected",
    [
        pytest.param(dict(now=100.0, ready=20, running=10), 10, id="holds the high mark 100 s on"),
        pytest.param(dict(now=300.0, ready=20, running=10), 10, id="holds it 300 s on"),
        pytest.param(dict(now=301.0, ready=20, running=10), 2, id="lets it go after 300 s"),
        pytest.param(dict(now=10.0, ready=150, running=10), 15, id="scales up at once"),
    ],
)
def test_scales_down_to_the_highest_recommendation_of_300_s(observe, later, expected):
    policy = SPEC.build()
    assert policy.decide(observe(now=0.0, ready=100, running=10)).desired == 10
    assert policy.decide(observe(**later)).desired == expected


@pytest.mark.parametrize(
    "params, problem",
    [
        pytest.param({"target_per_worker": 0}, "target_per_worker", id="zero target"),
        pytest.param({"tolerance": 1.0}, "tolerance", id="tolerance of 100 %"),
        pytest.param({"down_percent": 150}, "down_percent", id="shrinking by more than all"),
        pytest.param({"rate_per_worker": -1}, "rate_per_worker", id="negative rate target"),
    ],
)
def test_rejects_bad_parameters(params, problem):
    with pytest.raises(ConfigurationError, match=problem):
        SPEC.build(params)
