"""slo: M/M/c sizing for a 2 s objective, plus the backlog's drain across the boot delay.

Expected sizes are worked out in the comments from the module's formulas
(λ' = 1.1 λ, D = 30 s, drain horizon 30 s, p95 of wait within 2 s - S).
"""

import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.core.policies.slo import SPEC

#: Decisions equal targets: no stabilisation window, no step limit.
RAW = {"stabilization_s": 0, "down_step": 1.0}


def load(rate, backlog=0, service=0.2, running=2, **more):
    return dict(
        arrival_rate=rate, ready=backlog, mean_service_s=service, running=running, **more
    )


@pytest.mark.parametrize(
    "now, expected",
    [
        # A = 1.1: c = 1 is unstable, c = 2 has P(wait) 0.39 and p95 wait 0.46 s.
        pytest.param(load(5.0, backlog=1), 2, id="two workers for five 0.2 s jobs a second"),
        # A = 2.2: base 3; the backlog of 2 adds nothing.
        pytest.param(load(10.0, backlog=2), 3, id="three workers for ten jobs a second"),
        # A = 5.5: base 6. Two running serve 300 jobs in 30 s, 150 + 750 arrive:
        # 600 wait for new workers; draining them in 30 s takes 5.5 + 4 -> 10.
        pytest.param(load(25.0, backlog=150), 10, id="a burst asks for its backlog at once"),
        # Ten running clear a 300-job backlog before a new worker would boot,
        # but draining it within 30 s still needs 1.1 + 2 -> 4 workers.
        pytest.param(load(5.0, backlog=300, running=10), 4, id="a backlog keeps workers busy"),
        # S unknown: 1 s assumed, A = 1.1 with a 1 s wait budget: p95 wait 2.3 s
        # with 2, 0.44 s with 3.
        pytest.param(load(1.0, service=None, running=1), 3, id="assumes 1 s jobs until measured"),
        # S = 3 s > 2 s objective: wait budget S/10 = 0.3 s. A = 1.1: with 3 the
        # p95 wait is 1.3 s; with 4 fewer than 5 % wait at all.
        pytest.param(load(1 / 3, service=3.0, running=1), 4, id="waits little when S breaks it"),
        pytest.param(load(0.01, running=1), 1, id="keeps one for a trickle of jobs"),
        pytest.param(load(0.0, backlog=3, running=0), 1, id="starts one for a queued job"),
        pytest.param(load(0.0, running=1), 0, id="asks for none when idle"),
    ],
)
def test_sizes_the_fleet_for_the_objective_and_the_backlog(observe, now, expected):
    decision = SPEC.build(RAW).decide(observe(**now))
    assert decision.desired == expected
    assert decision.reason


@pytest.mark.parametrize(
    "remembered, expected",
    [
        # Asked 10 s ago, the 8 booting serve 20 s of the next 30: 2*30 + 8*10
        # worker-seconds = 700 jobs; 300 + 750 - 700 = 350 left -> 5.5 + 2.33 -> 8.
        pytest.param(True, 8, id="workers it asked for serve once their boot ends"),
        # Booting workers it did not ask for are taken as just asked: 750 left -> 11.
        pytest.param(False, 11, id="workers it did not ask for count as just asked"),
    ],
)
def test_counts_booting_workers_by_when_it_asked_for_them(observe, remembered, expected):
    policy = SPEC.build(RAW)
    if remembered:
        assert policy.decide(observe(now=0.0, **load(25.0, backlog=150))).desired == 10
    later = observe(now=10.0, **load(25.0, backlog=298, in_flight=2, booting=8))
    assert policy.decide(later).desired == expected


def test_scales_up_at_once_and_down_after_30_s_in_halves(decide_all):
    burst = load(25.0, backlog=150)
    rows = [dict(now=0.0, **burst)]
    rows += [dict(now=t, **load(5.0, running=10)) for t in (10.0, 20.0, 30.0, 31.0)]
    rows += [dict(now=41.0, **load(5.0, running=5)), dict(now=51.0, **load(5.0, running=3))]
    rows += [dict(now=61.0, **burst)]
    decisions = decide_all(SPEC.build({"smoothing": 1.0, "stabilization_s": 30}), rows)
    assert [d.desired for d in decisions] == [10, 10, 10, 10, 5, 3, 2, 10]


@pytest.mark.parametrize(
    "samples, expected",
    [
        pytest.param([10.0, 2.0], 6.0, id="a falling rate is averaged"),
        pytest.param([10.0, 2.0, 2.0], 4.0, id="and keeps falling"),
        pytest.param([2.0, 10.0], 10.0, id="a rising rate is taken at once"),
    ],
)
def test_estimates_the_arrival_rate(observe, samples, expected):
    policy = SPEC.build()
    for sample in samples:
        rate, _ = policy.estimate(observe(arrival_rate=sample))
    assert rate == pytest.approx(expected)


@pytest.mark.parametrize(
    "samples, expected",
    [
        pytest.param([None], 1.0, id="assumes the default before any job finished"),
        pytest.param([None, 0.4], 0.4, id="takes the first measurement as it is"),
        pytest.param([0.4, None, 0.2], 0.3, id="averages later ones and keeps the last"),
    ],
)
def test_estimates_the_service_time(observe, samples, expected):
    policy = SPEC.build()
    for sample in samples:
        _, service = policy.estimate(observe(mean_service_s=sample))
    assert service == pytest.approx(expected)


@pytest.mark.parametrize(
    "params, problem",
    [
        pytest.param({"slo_s": 0}, "slo_s", id="no time to answer"),
        pytest.param({"quantile": 1.0}, "quantile", id="every single job"),
        pytest.param({"smoothing": 0}, "smoothing", id="never learning"),
        pytest.param({"down_step": 1.5}, "down_step", id="shrinking by more than all"),
        pytest.param({"boot_delay": 30}, "boot_delay", id="a misspelt parameter"),
    ],
)
def test_rejects_bad_parameters(params, problem):
    with pytest.raises(ConfigurationError, match=problem):
        SPEC.build(params)


def test_accepts_the_mean_instead_of_a_quantile(observe):
    policy = SPEC.build({"quantile": None, **RAW})
    assert policy.decide(observe(**load(5.0, backlog=1))).desired == 2
