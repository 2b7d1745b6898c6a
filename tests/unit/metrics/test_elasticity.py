import math

import numpy as np
import pytest

from imgproc.core.metrics.elasticity import elasticity

# t:        0  1  2  3  4  5
DEMAND = [1, 2, 2, 3, 1, 1]
SUPPLY = [1, 1, 4, 2, 2, 2]
# d - s:    0  1 -2  1 -1 -1
# Δd:         1  0  1 -2  0    (3 changes)
# Δs:         0  3 -2  0  0    (2 changes; opposite to demand at the third interval only)


def test_hand_made_curves_give_the_hand_computed_metrics():
    e = elasticity(np.array(DEMAND), np.array(SUPPLY), step_s=1.0)
    assert e.a_u == pytest.approx(2 / 6)
    assert e.a_o == pytest.approx(4 / 6)
    assert e.t_u == pytest.approx(2 / 6)
    assert e.t_o == pytest.approx(3 / 6)
    assert e.instability == pytest.approx(1 / 5)
    assert e.jitter == pytest.approx((2 - 3) / (6 / 60))


def test_jitter_is_per_minute_of_run_so_a_longer_step_shrinks_it():
    assert elasticity(np.array(DEMAND), np.array(SUPPLY), step_s=10.0).jitter == pytest.approx(-1.0)


def test_supply_that_tracks_demand_exactly_scores_zero_everywhere():
    d = np.array([0, 1, 3, 3, 2])
    e = elasticity(d, d.copy())
    assert (e.a_u, e.a_o, e.t_u, e.t_o, e.instability, e.jitter) == (0, 0, 0, 0, 0, 0)


def test_one_curve_moving_while_the_other_stays_is_not_instability():
    e = elasticity(np.array([1, 2, 2]), np.array([1, 1, 3]))
    assert e.instability == 0.0


def test_curves_moving_in_opposite_directions_every_step_are_fully_unstable():
    e = elasticity(np.array([1, 2, 1, 2]), np.array([2, 1, 2, 1]))
    assert e.instability == 1.0
    assert e.jitter == 0.0


def test_a_constant_fleet_against_changing_demand_has_negative_jitter():
    e = elasticity(np.array([1, 2, 3, 4] * 15), np.full(60, 2))
    assert e.jitter < 0


def test_no_samples_measure_nothing():
    e = elasticity(np.zeros(0), np.zeros(0))
    assert all(math.isnan(v) for v in (e.a_u, e.a_o, e.t_u, e.t_o, e.instability, e.jitter))


def test_a_single_sample_has_accuracy_but_no_instability():
    e = elasticity(np.array([3]), np.array([1]))
    assert (e.a_u, e.t_u, e.jitter) == (2.0, 1.0, 0.0)
    assert math.isnan(e.instability)


def test_curves_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        elasticity(np.array([1, 2]), np.array([1]))
