import math

import numpy as np
import pytest

from imgproc.core.metrics.latency import latency_stats
from imgproc.core.metrics.record import JobOutcomes

NAN = math.nan


def outcomes(submit, end, service=None, failed=None):
    n = len(submit)
    return JobOutcomes(
        submit_s=np.array(submit, dtype=float),
        start_s=np.array(submit, dtype=float),
        end_s=np.array(end, dtype=float),
        service_s=np.array(service if service is not None else [1.0] * n, dtype=float),
        failed=np.array(failed if failed is not None else [False] * n, dtype=bool),
    )


def test_four_completed_jobs_give_exact_linear_percentiles():
    stats = latency_stats(outcomes([0, 10, 20, 30], [1, 12, 23, 34]))
    # sorted responses 1, 2, 3, 4: rank p/100 * 3 between neighbours
    assert stats.p50_s == pytest.approx(2.5)
    assert stats.p95_s == pytest.approx(3.85)
    assert stats.p99_s == pytest.approx(3.97)
    assert stats.max_s == 4.0


def test_every_submitted_job_is_completed_failed_or_lost():
    stats = latency_stats(
        outcomes([0, 0, 0, 0, 0], [1, 2, NAN, 3, NAN], failed=[False, True, False, False, False])
    )
    assert (stats.submitted, stats.completed, stats.failed, stats.lost) == (5, 2, 1, 2)


def test_a_job_flagged_failed_that_never_finished_counts_as_lost():
    stats = latency_stats(outcomes([0], [NAN], failed=[True]))
    assert (stats.completed, stats.failed, stats.lost) == (0, 0, 1)


def test_failed_jobs_take_no_part_in_response_times():
    stats = latency_stats(outcomes([0, 0], [1, 100], failed=[False, True]))
    assert stats.max_s == 1.0


def test_slowdown_is_the_mean_ratio_of_response_to_service():
    stats = latency_stats(outcomes([0, 0], [2, 3], service=[1, 3]))
    assert stats.slowdown_mean == pytest.approx((2 / 1 + 3 / 3) / 2)


def test_slowdown_skips_jobs_with_zero_or_unknown_service():
    stats = latency_stats(outcomes([0, 0, 0], [4, 1, 1], service=[2, 0, NAN]))
    assert stats.slowdown_mean == pytest.approx(2.0)


def test_slowdown_is_nan_when_no_job_has_a_service_time():
    assert math.isnan(latency_stats(outcomes([0], [1], service=[0])).slowdown_mean)


def test_slo_share_counts_lost_and_failed_jobs_as_missed():
    stats = latency_stats(
        outcomes([0, 0, 0, 0], [1, 5, 1, NAN], failed=[False, False, True, False]), slo_s=2.0
    )
    assert stats.slo_met_share == pytest.approx(1 / 4)


def test_a_response_exactly_at_the_objective_meets_it():
    assert latency_stats(outcomes([0], [2.0]), slo_s=2.0).slo_met_share == 1.0


def test_an_empty_run_gives_zero_counts_and_nan_statistics():
    stats = latency_stats(outcomes([], []))
    assert (stats.submitted, stats.completed, stats.failed, stats.lost) == (0, 0, 0, 0)
    for value in (stats.p50_s, stats.p99_s, stats.max_s, stats.slowdown_mean, stats.slo_met_share):
        assert math.isnan(value)


def test_an_all_lost_run_has_no_response_times_and_meets_no_objective():
    stats = latency_stats(outcomes([0, 1, 2], [NAN, NAN, NAN]))
    assert stats.lost == 3
    assert math.isnan(stats.p50_s)
    assert stats.slo_met_share == 0.0
