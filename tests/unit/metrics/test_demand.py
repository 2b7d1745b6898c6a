import math

import numpy as np
import pytest

from imgproc.core.metrics.demand import demand_curve, servers_needed, window_stats
from imgproc.core.queueing import min_servers


def factorial_mean_wait(c, arrival_rate, service_s):
    """Erlang C mean wait straight from the textbook formula (small c only)."""
    a = arrival_rate * service_s
    if c <= a:
        return math.inf
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait * service_s / (c - a)


def factorial_min_servers(arrival_rate, service_s, max_wait_s):
    c = 1
    while factorial_mean_wait(c, arrival_rate, service_s) > max_wait_s:
        c += 1
    return c


def jobs_in_first_window(count, service_s, window_s=10.0):
    arrivals = np.linspace(window_s / count, window_s, count)
    return arrivals, np.full(count, service_s)


def demand_at(arrivals, service, grid):
    """Demand with a 10 s window and a 2 s objective."""
    return demand_curve(arrivals, service, np.array(grid), window_s=10.0, slo_s=2.0)


def test_eight_one_second_jobs_in_ten_seconds_need_two_workers():
    arrivals, service = jobs_in_first_window(8, 1.0)
    # λ = 0.8/s, S = 1 s, A = 0.8: one worker waits 4 s on average, two wait 0.19 s
    assert factorial_min_servers(0.8, 1.0, 2.0 - 1.0) == 2
    assert demand_at(arrivals, service, [10.0]).tolist() == [2]


@pytest.mark.parametrize("count,service_s", [(50, 1.5), (30, 0.4), (120, 0.9)])
def test_demand_matches_erlang_c_computed_from_factorials(count, service_s):
    arrivals, service = jobs_in_first_window(count, service_s)
    expected = factorial_min_servers(count / 10.0, service_s, 2.0 - service_s)
    assert demand_at(arrivals, service, [10.0])[0] == expected


@pytest.mark.parametrize(
    "rate,service_s,max_wait",
    [(0.5, 1.0, 0.1), (3.0, 2.0, 0.5), (7.5, 1.5, 0.05), (12.0, 1.0, 0.001), (2.0, 0.3, 1e-6)],
)
def test_queueing_min_servers_agrees_with_the_factorial_formula(rate, service_s, max_wait):
    expected = factorial_min_servers(rate, service_s, max_wait)
    assert min_servers(rate, service_s, max_wait) == expected


def test_when_service_alone_breaks_the_objective_wait_is_held_to_a_tenth_of_service():
    arrivals, service = jobs_in_first_window(20, 3.0)
    expected = factorial_min_servers(2.0, 3.0, 0.3)
    assert demand_at(arrivals, service, [10.0])[0] == expected


def test_window_holds_arrivals_after_its_start_up_to_and_including_its_end():
    arrivals, service = np.array([0.0, 10.0]), np.array([0.5, 0.5])
    d = demand_at(arrivals, service, [0.0, 9.9, 10.0, 19.9, 20.0])
    assert d.tolist() == [1, 1, 1, 1, 0]


def test_demand_is_zero_in_an_empty_window_and_one_for_jobs_of_no_service():
    d = demand_at(np.array([5.0]), np.array([0.0]), [1.0, 5.0, 30.0])
    assert d.tolist() == [0, 1, 0]


def test_unknown_service_times_count_as_arrivals_but_not_towards_the_mean():
    arrivals = np.linspace(1.0, 10.0, 8)
    service = np.array([1.0, np.nan] * 4)
    expected = factorial_min_servers(0.8, 1.0, 1.0)
    assert demand_at(arrivals, service, [10.0])[0] == expected


def test_arrivals_need_not_be_sorted():
    counts, mean_s = window_stats(
        np.array([15.0, 1.0, 9.0]), np.array([5.0, 1.0, 3.0]), np.array([10.0, 16.0]), 10.0
    )
    assert counts.tolist() == [2, 2]
    assert mean_s.tolist() == [2.0, 4.0]


def test_an_empty_trace_has_no_demand_and_an_empty_grid_gives_an_empty_curve():
    empty = np.zeros(0)
    assert demand_curve(empty, empty, np.array([1.0, 2.0])).tolist() == [0, 0]
    assert demand_curve(np.array([1.0]), np.array([1.0]), empty).size == 0


def test_a_non_positive_window_is_refused():
    with pytest.raises(ValueError):
        demand_curve(np.array([1.0]), np.array([1.0]), np.array([1.0]), window_s=0.0)


def test_window_and_objective_must_be_named_so_they_cannot_be_swapped():
    with pytest.raises(TypeError):
        demand_curve(np.array([1.0]), np.array([1.0]), np.array([1.0]), 10.0, 2.0)


def test_each_point_gets_the_workers_its_own_window_needs_on_a_long_varied_grid():
    rng = np.random.default_rng(3)
    arrivals = np.sort(rng.uniform(0, 600, 3000))
    service = rng.choice([0.1, 0.2, 0.25, 1.5, 3.0], size=3000)
    grid = np.arange(0.0, 600.0, 0.5)
    counts, means = window_stats(arrivals, service, grid, 10.0)
    expected = [servers_needed(int(n), float(s), 10.0, 2.0)
                for n, s in zip(counts, np.round(means, 3), strict=True)]
    assert demand_at(arrivals, service, grid).tolist() == expected
