"""The workload generator: the seed's recipe, the Poisson shapes, the service
distributions, determinism and spec validation."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from imgproc.adapters.trace_files import read_trace
from imgproc.core.errors import ConfigurationError
from imgproc.core.trace import Trace
from imgproc.core.workload_gen import (
    GeneratorSpec,
    expected_jobs,
    generate,
    make_spec,
    rate_at,
    summarise,
)

SHAPES = ["normal", "burst", "diurnal", "flash-crowd", "ramp", "on-off"]
DISTS = ["normal", "exponential", "lognormal", "pareto"]
POISSON_SHAPES = ["diurnal", "flash-crowd", "ramp", "on-off"]
REPO = Path(__file__).resolve().parents[2]


def spec(**values: object) -> GeneratorSpec:
    return GeneratorSpec(**{"duration_s": 1200, "rate": 5, "seed": 1, **values})


def assert_same(a: Trace, b: Trace) -> None:
    assert a.ids == b.ids and a.users == b.users
    np.testing.assert_array_equal(a.arrival_s, b.arrival_s)
    np.testing.assert_array_equal(a.service_s, b.service_s)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_same_spec_and_seed_give_the_same_trace(shape: str) -> None:
    assert_same(generate(spec(shape=shape)), generate(spec(shape=shape)))


@pytest.mark.parametrize("shape", SHAPES)
def test_a_different_seed_gives_different_service_times(shape: str) -> None:
    a, b = generate(spec(shape=shape, seed=1)), generate(spec(shape=shape, seed=2))
    n = min(len(a), len(b))
    assert not np.array_equal(a.service_s[:n], b.service_s[:n])


@pytest.mark.parametrize("shape", POISSON_SHAPES)
def test_a_different_seed_gives_different_poisson_arrivals(shape: str) -> None:
    a, b = generate(spec(shape=shape, seed=1)), generate(spec(shape=shape, seed=2))
    n = min(len(a), len(b))
    assert not np.array_equal(a.arrival_s[:n], b.arrival_s[:n])


def test_the_burst_shape_follows_the_seed_recipe_300_then_1501_then_5400() -> None:
    trace = generate(spec(shape="burst"))
    runs = [(user, len(list(group))) for user, group in groupby(trace.users)]
    assert runs == [("normal", 300), ("burst", 1501), ("normal", 5400)]
    gaps = np.diff(np.concatenate([[0.0], trace.arrival_s]))
    np.testing.assert_allclose(gaps[:300], 0.2)
    np.testing.assert_allclose(gaps[300:1801], 0.04)
    np.testing.assert_allclose(gaps[1801:], 0.2)
    assert trace.duration_s == pytest.approx(1200.04)


def test_the_burst_shape_reproduces_the_converted_seed_log_arrivals() -> None:
    seed = REPO / "workloads" / "burst.jsonl"
    converted = read_trace(seed).trace
    generated = generate(spec(shape="burst"))
    assert converted.users == generated.users
    np.testing.assert_allclose(converted.arrival_s, generated.arrival_s, atol=1e-6)


def test_the_normal_shape_makes_one_job_every_gap_starting_after_one_gap() -> None:
    trace = generate(spec(shape="normal"))
    assert len(trace) == 6000
    np.testing.assert_allclose(trace.arrival_s, 0.2 * np.arange(1, 6001))
    assert set(trace.users) == {"normal"}


def test_ids_carry_the_shape_or_the_given_name_and_users_the_shape() -> None:
    assert generate(spec(shape="diurnal")).ids[:2] == ["diurnal-000001", "diurnal-000002"]
    named = generate(spec(name="heavy-tail", service_dist="pareto"))
    assert named.ids[0] == "heavy-tail-000001" and named.name == "heavy-tail"
    assert set(generate(spec(shape="on-off")).users) == {"on-off"}


@pytest.mark.parametrize("shape", POISSON_SHAPES)
def test_poisson_shapes_make_the_expected_number_of_jobs(shape: str) -> None:
    s = spec(shape=shape, rate=50)
    expected = expected_jobs(s)
    assert abs(len(generate(s)) - expected) < 5 * np.sqrt(expected)


@pytest.mark.parametrize("shape", POISSON_SHAPES)
def test_poisson_arrivals_are_ordered_and_inside_the_duration(shape: str) -> None:
    arrivals = generate(spec(shape=shape)).arrival_s
    assert np.all(np.diff(arrivals) >= 0)
    assert arrivals[0] >= 0 and arrivals[-1] < 1200


def _count_between(trace: Trace, start: float, end: float) -> int:
    return int(np.count_nonzero((trace.arrival_s >= start) & (trace.arrival_s < end)))


def test_on_off_makes_no_arrivals_while_off() -> None:
    trace = generate(spec(shape="on-off", on_s=100, off_s=50))
    phase = np.mod(trace.arrival_s, 150)
    assert np.all(phase < 100)


def test_flash_crowd_rate_peaks_at_the_spike_and_decays() -> None:
    s = spec(shape="flash-crowd", rate=20, flash_at_s=300, flash_peak_factor=10, flash_decay_s=60)
    trace = generate(s)
    just_before = _count_between(trace, 290, 300) / 10
    just_after = _count_between(trace, 300, 305) / 5
    assert just_before == pytest.approx(20, rel=0.25)
    assert just_after == pytest.approx(float(rate_at(s, np.array([302.5]))[0]), rel=0.1)
    assert rate_at(s, np.array([300.0]))[0] == pytest.approx(200)


def test_diurnal_rate_is_low_at_the_ends_and_high_in_the_middle() -> None:
    trace = generate(spec(shape="diurnal", rate=20, diurnal_amplitude=0.8))
    ends = _count_between(trace, 0, 150) + _count_between(trace, 1050, 1200)
    middle = _count_between(trace, 450, 750)
    assert middle > 3 * ends


def test_ramp_ends_at_its_end_factor_times_the_base_rate() -> None:
    trace = generate(spec(shape="ramp", rate=20, ramp_end_factor=4))
    first, last = _count_between(trace, 0, 60), _count_between(trace, 1140, 1200)
    expected = (1 + 3 * 1170 / 1200) / (1 + 3 * 30 / 1200)
    assert last / first == pytest.approx(expected, rel=0.1)


@pytest.mark.parametrize("dist", DISTS)
def test_service_times_have_the_asked_mean_for_each_distribution(dist: str) -> None:
    trace = generate(spec(duration_s=200, rate=1000, service_dist=dist, service_mean_s=0.3))
    assert trace.service_s.mean() == pytest.approx(0.3, rel=0.03)
    assert np.all(trace.service_s > 0)


def test_normal_service_times_have_a_tenth_of_the_mean_as_deviation() -> None:
    services = generate(spec(duration_s=100, rate=1000)).service_s
    assert services.std() == pytest.approx(0.02, rel=0.05)


def test_pareto_service_times_have_a_heavy_tail_above_a_scale() -> None:
    services = generate(spec(duration_s=100, rate=1000, service_dist="pareto")).service_s
    scale = 0.2 * 1.5 / 2.5
    assert services.min() >= scale
    assert np.percentile(services, 99.9) > 5 * np.median(services)


def test_lognormal_service_times_have_the_median_their_sigma_implies() -> None:
    s = spec(duration_s=100, rate=1000, service_dist="lognormal", lognormal_sigma=0.5)
    median = np.median(generate(s).service_s)
    assert median == pytest.approx(0.2 * np.exp(-0.5**2 / 2), rel=0.03)


def test_rejects_an_unknown_shape_naming_the_allowed_ones() -> None:
    with pytest.raises(ConfigurationError, match="shape: Input should be 'normal', 'burst'"):
        make_spec(shape="square", duration_s=10, rate=1, seed=1)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("duration_s", 0, "duration_s: Input should be greater than 0 (got 0)"),
        ("rate", -5, "rate: Input should be greater than 0 (got -5)"),
        ("service_mean_s", 0, "service_mean_s: Input should be greater than 0"),
        ("service_dist", "uniform", "service_dist: Input should be 'normal', 'exponential'"),
        ("seed", "abc", "seed: Input should be a valid integer"),
    ],
)
def test_rejects_an_invalid_base_parameter_naming_field_and_expectation(
    field: str, value: object, expected: str
) -> None:
    values = {"duration_s": 10, "rate": 1, "seed": 1, field: value}
    with pytest.raises(ConfigurationError) as caught:
        make_spec(**values)
    assert str(caught.value).startswith("invalid workload spec: ")
    assert expected in str(caught.value)


def test_rejects_a_knob_of_another_shape() -> None:
    with pytest.raises(ValidationError, match="burst_factor applies only to 'burst'"):
        spec(shape="diurnal", burst_factor=3)


def test_rejects_a_pareto_tail_index_without_a_finite_mean() -> None:
    with pytest.raises(ValidationError, match="pareto_alpha"):
        spec(service_dist="pareto", pareto_alpha=1.0)


def test_rejects_a_burst_that_starts_after_the_trace_ends() -> None:
    with pytest.raises(ValidationError, match=r"burst_start_s \(1500.0\) must be before"):
        spec(shape="burst", burst_start_s=1500)


def test_rejects_a_spec_that_would_make_too_many_jobs() -> None:
    with pytest.raises(ValidationError, match="arrivals; at most 20,000,000"):
        spec(rate=1e6, duration_s=1e5)


def test_rejects_a_flash_crowd_whose_peak_needs_too_many_candidate_arrivals() -> None:
    with pytest.raises(ValidationError, match="would draw about 6,000,000,000 arrivals"):
        spec(shape="flash-crowd", flash_peak_factor=1e6, flash_decay_s=0.001)


def test_summary_reports_rates_service_percentiles_and_work() -> None:
    summary = summarise(generate(spec(shape="burst")), window_s=10)
    assert summary.jobs == 7201
    assert summary.peak_rate == pytest.approx(25)
    assert summary.mean_rate == pytest.approx(7201 / 1200.04)
    assert summary.service_p50_s == pytest.approx(0.2, rel=0.05)
    assert summary.service_p95_s == pytest.approx(0.2 * (1 + 1.645 / 10), rel=0.03)
    assert summary.work_s == pytest.approx(7201 * 0.2, rel=0.02)
