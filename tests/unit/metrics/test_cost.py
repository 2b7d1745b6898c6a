import math

import numpy as np
import pytest

from imgproc.core.metrics.cost import cost_stats, fleet_peak_and_mean, machine_seconds
from imgproc.core.metrics.record import SERIES_COLUMNS, MachineSpan, TimeSeries


def span(id, requested, ready=None, released=None, failed=False):
    return MachineSpan(id, requested, ready, released, failed)


def series(step_s=1.0, **columns):
    n = len(next(iter(columns.values())))
    cols = {name: np.zeros(n) for name in SERIES_COLUMNS}
    cols["t"] = np.arange(1, n + 1) * step_s
    cols.update({k: np.array(v, dtype=float) for k, v in columns.items()})
    return TimeSeries(step_s, cols)


TWO_MACHINES = [
    span("short", requested=0.0, ready=30.0, released=45.0),
    span("open", requested=10.0, ready=40.0, released=None),
]


def test_two_machines_give_exact_vm_seconds_and_billing():
    cost = cost_stats(TWO_MACHINES, run_end_s=3700.0)
    assert cost.vm_seconds == 45.0 + 3690.0
    assert cost.billed_seconds == 60.0 + 3690.0  # the short one pays its minute
    assert cost.billed_hours == 1 + 2
    assert cost.cost_per_second_model == pytest.approx(3750.0 / 3600 * 0.10)
    assert cost.cost_per_hour_model == pytest.approx(0.30)


def test_a_machine_is_billed_from_its_request_not_its_readiness():
    assert machine_seconds(span("m", requested=5.0, ready=100.0, released=200.0), 500.0) == 195.0


def test_a_machine_never_released_is_billed_to_the_end_of_the_run():
    assert machine_seconds(span("m", requested=5.0), run_end_s=65.0) == 60.0


def test_a_failed_machine_is_billed_like_any_other():
    cost = cost_stats([span("m", 0.0, None, 120.0, failed=True)], run_end_s=500.0)
    assert cost.vm_seconds == 120.0


def test_exactly_one_hour_is_billed_as_one_hour_despite_float_noise():
    noisy = span("m", requested=3600.1, released=7200.1)  # 3600.0000000000005 s
    cost = cost_stats([noisy], run_end_s=8000.0)
    assert cost.billed_hours == 1


def test_price_per_hour_scales_both_cost_models():
    cost = cost_stats([span("m", 0.0, released=7200.0)], 7200.0, price_per_hour=1.5)
    assert cost.cost_per_second_model == pytest.approx(3.0)
    assert cost.cost_per_hour_model == pytest.approx(3.0)


def test_no_machines_cost_nothing():
    cost = cost_stats([], run_end_s=100.0)
    assert (cost.vm_seconds, cost.billed_seconds, cost.billed_hours) == (0.0, 0.0, 0)
    assert cost.cost_per_hour_model == 0.0


def test_fleet_counts_every_machine_not_yet_being_torn_down():
    s = series(
        preparing=[1, 0, 0, 0],
        booting=[0, 1, 0, 0],
        running=[0, 1, 2, 0],
        draining=[0, 0, 1, 0],
        destroying=[0, 0, 0, 5],
    )
    peak, mean = fleet_peak_and_mean(s, duration_s=4.0)
    assert peak == 3.0
    assert mean == pytest.approx((1 + 2 + 3 + 0) / 4)


def test_fleet_mean_is_weighted_by_step_and_taken_over_the_run():
    peak, mean = fleet_peak_and_mean(series(step_s=2.0, running=[2, 4]), duration_s=8.0)
    assert peak == 4.0
    assert mean == pytest.approx((2 * 2 + 4 * 2) / 8)


def test_a_fleet_that_never_changes_averages_its_size_though_sampled_at_both_ends():
    # a simulated run of 10.5 s sampled every second: at 0..10 and at its end, 12 samples
    peak, mean = fleet_peak_and_mean(series(step_s=1.0, running=[3] * 12), duration_s=10.5)
    assert peak == 3.0
    assert mean == pytest.approx(3.0)


def test_an_empty_series_has_no_fleet_size():
    empty = TimeSeries(1.0, {name: np.zeros(0) for name in SERIES_COLUMNS})
    assert all(math.isnan(v) for v in fleet_peak_and_mean(empty, 0.0))
