"""Means of replications with Student's t 95 % confidence intervals."""

from __future__ import annotations

import math

import pytest

from imgproc.core.metrics.confidence import mean_ci95, t975


@pytest.mark.parametrize(("df", "quantile"), [(1, 12.706), (4, 2.776), (30, 2.042),
                                              (40, 2.021), (120, 1.980)])
def test_t_quantiles_are_the_tables(df, quantile):
    assert t975(df) == pytest.approx(quantile)


@pytest.mark.parametrize(("df", "exact"), [(35, 2.0301), (50, 2.0086), (100, 1.9840),
                                           (1000, 1.9623)])
def test_t_quantiles_between_table_rows_are_within_a_thousandth(df, exact):
    assert t975(df) == pytest.approx(exact, abs=1e-3)


def test_t_quantiles_tend_to_the_normal_one():
    assert t975(10**9) == pytest.approx(1.960, abs=1e-6)


def test_no_degree_of_freedom_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        t975(0)


def test_the_interval_is_t_times_the_standard_error():
    mean, half = mean_ci95([1.0, 2.0, 3.0, 4.0])
    sd = math.sqrt(((1.5**2) * 2 + (0.5**2) * 2) / 3)
    assert mean == 2.5 and half == pytest.approx(3.182 * sd / 2)


def test_one_value_has_a_mean_and_no_interval():
    assert mean_ci95([7.0]) == (7.0, None)


def test_equal_values_have_an_interval_of_nothing():
    assert mean_ci95([3.0, 3.0, 3.0]) == (3.0, 0.0)
