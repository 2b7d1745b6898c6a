"""slo over many rounds: forecasting, keeping idle workers, learning the load's shape.

Rounds are 10 s apart; jobs take 0.2 s; the boot delay is 30 s.
"""

from imgproc.core.policies.slo import SPEC, fluid_servers
from imgproc.core.policies.slo_estimates import Onsets, Variability
from imgproc.core.scaler import Scaler, ScalerLimits

#: Neither learned variability nor onsets: M/M/c, as the sizes of test_slo.py.
PLAIN = {"variability": False, "predict_onsets": False}
#: Decisions equal targets: no stabilisation window, no step limit.
RAW = {"stabilization_s": 0, "down_step": 1.0}


def steady(now, rate, running, backlog=0, service=0.2):
    completed = rate if running * 5 >= rate else running * 5.0
    return dict(now=now, arrival_rate=rate, completion_rate=completed, ready=backlog,
                mean_service_s=service, running=running)


def test_asks_for_the_forecast_before_any_queue_builds(observe):
    # 25 jobs/s need 6 workers for the objective; the two running ones meet only 10 of
    # them, so in the 30 s of the boot 450 jobs would be left: it asks for them now.
    decision = SPEC.build(PLAIN).decide(observe(**steady(0.0, 25.0, running=2)))
    assert decision.desired > 6


def on_off_rounds(until, running=2):
    """Two minutes on at 5 jobs/s, two off, from 0 s to ``until``; the first round has
    no rate yet, as the scaler's first round."""
    return [steady(float(t), 5.0 if 0 < t % 240 <= 120 else 0.0, running)
            for t in range(0, until, 10)]


def test_has_workers_ready_for_a_step_up_that_recurs(decide_all):
    params = {"variability": False}
    policy = SPEC.build(params)
    decisions = decide_all(policy, on_off_rounds(690, running=1))
    # Steps up seen at 10, 250 and 490 s; quiet since 610 s, the load is due back at
    # 730 s: at 680 s, a boot delay and two rounds ahead, it asks for what the last step needed.
    assert decisions[-1].desired >= 2 and "periodic" in decisions[-1].reason
    blind = decide_all(SPEC.build({**params, "predict_onsets": False}),
                       on_off_rounds(690, running=1))
    assert blind[-1].desired < 2


def test_does_not_foresee_a_step_that_came_once(decide_all):
    rows = [steady(float(t), 50.0 if t == 300 else 5.0, running=2) for t in range(0, 900, 10)]
    decisions = decide_all(SPEC.build({"variability": False}), rows)
    assert not any("periodic" in d.reason for d in decisions)


def test_keeps_an_idle_worker_until_break_even(decide_all):
    # After a burst the load stops: the three workers are kept for the window (here
    # the 30 s that booting them again would take), then let go half at a time.
    rows = [steady(0.0, 10.0, running=3)]
    rows += [steady(float(t), 0.0, running=3) for t in (10, 20, 30)]
    rows += [steady(41.0, 0.0, running=3)]
    decisions = decide_all(SPEC.build({**PLAIN, "stabilization_s": 30}), rows)
    assert [d.desired for d in decisions] == [3, 3, 3, 3, 2]
    default = decide_all(SPEC.build(PLAIN), rows)
    assert [d.desired for d in default] == [3, 3, 2, 2, 2]


def test_never_goes_below_the_scalers_minimum(observe):
    limits = ScalerLimits(min_workers=2)
    scaler = Scaler(SPEC.build(RAW), None, None, None, None, limits)  # type: ignore[arg-type]
    quiet = observe(now=0.0, running=2)
    decision = scaler.policy.decide(quiet)
    assert decision.desired == 0
    assert scaler.capped(quiet, decision.desired) == 2


def test_needs_fewer_workers_for_a_smooth_load_than_for_a_poisson_one(decide_all):
    # 22 jobs/s of 0.2 s jobs under a 0.3 s objective: A = 4.4 (4.84 with headroom).
    # M/M/c asks for 8; one job every 1/22 s (ca² = 0) whose length varies a little
    # (rounds' means of 220 jobs 0.01 s apart: cs² = 220 * 0.01**2 / 4 / 0.2**2,
    # about 0.14) waits far less, and 6 do.
    rows = [steady(float(t), 22.0, running=8, service=0.195 + 0.01 * (t % 20 == 0))
            for t in range(0, 200, 10)]
    tight = {"slo_s": 0.3, **RAW}
    smooth = decide_all(SPEC.build({**tight, "predict_onsets": False}), rows)
    plain = decide_all(SPEC.build({**tight, **PLAIN}), rows)
    assert plain[-1].desired == 8
    assert smooth[-1].desired == 6 and "fluid" not in smooth[-1].reason


def test_learns_the_variability_of_arrivals_and_service():
    steady_load = Variability(window=30)
    poisson_like = Variability(window=30)
    for k in range(30):
        steady_load.add(50.0, 0.2, 50)
        poisson_like.add(50.0 + (7.0 if k % 2 else -7.0), 0.2 + (0.028 if k % 2 else -0.028),
                         50)
    assert steady_load.arrivals_scv() == 0 and steady_load.service_scv() == 0
    # Counts alternating 43 and 57, a mean of 50: half the squared step, 14**2 / 2,
    # over 50. Means of 50 jobs alternating by 0.056 s: Var(S) = 50 * 0.056**2 / 4,
    # over 0.2**2.
    assert abs(poisson_like.arrivals_scv() - 1.96) < 1e-9
    assert abs(poisson_like.service_scv() - 0.98) < 1e-9


def test_assumes_poisson_until_it_has_seen_enough_rounds():
    fresh = Variability(window=30)
    fresh.add(50.0, 0.2, 50)
    assert fresh.arrivals_scv() == 1.0 and fresh.service_scv() == 1.0


def test_trusts_a_period_only_when_two_gaps_agree():
    onsets = Onsets(quiet_s=30.0)
    for now, rate in ((0, 0.0), (10, 5.0), (100, 0.0), (250, 5.0), (350, 0.0), (400, 5.0)):
        onsets.add(float(now), rate, target=2)
    assert onsets.period() is None  # gaps of 240 s and 150 s
    for now, rate in ((500, 0.0), (640, 5.0), (740, 0.0)):
        onsets.add(float(now), rate, target=2)
    onsets.add(880.0, 5.0, target=3)
    assert onsets.period() == 240.0  # gaps of 240 s and 240 s
    assert onsets.expected(1080.0, lead_s=50.0) == 3
    assert onsets.expected(1000.0, lead_s=50.0) == 0


def smooth_rounds(backlog):
    """One job every 0.2 s of exactly 0.2 s: a load of one worker, nothing random."""
    return [steady(float(t), 5.0, running=1, backlog=backlog) for t in range(0, 100, 10)]


def test_keeps_one_worker_for_a_smooth_load_of_one_worker(decide_all):
    smooth = decide_all(SPEC.build({"predict_onsets": False}), smooth_rounds(backlog=2))
    poisson = decide_all(SPEC.build(PLAIN), smooth_rounds(backlog=2))
    assert smooth[-1].desired == 1 and "fluid" in smooth[-1].reason
    assert poisson[-1].desired == 2


def test_adds_a_worker_when_a_smooth_loads_backlog_would_wait_too_long(decide_all):
    # Ten jobs ahead of one 0.2 s worker wait 2 s: more than the 1.8 s budget.
    decisions = decide_all(SPEC.build({"predict_onsets": False}), smooth_rounds(backlog=10))
    assert decisions[-1].desired == 2


def test_sizes_a_fluid_for_its_backlog_after_the_horizon():
    # 5 jobs/s of 0.2 s: one worker keeps pace; 9 queued wait 1.8 s.
    assert fluid_servers(5.0, 0.2, 9, max_wait_s=1.8, horizon_s=40.0) == 1
    assert fluid_servers(5.0, 0.2, 10, max_wait_s=1.8, horizon_s=40.0) == 2
    # 6 jobs/s: one worker falls 40 jobs behind in 40 s; two drain it.
    assert fluid_servers(6.0, 0.2, 0, max_wait_s=1.8, horizon_s=40.0) == 2
