"""Parsing and validating trace lines, in our format and in the seed's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgproc.core.errors import TraceError, TraceValidationFailed
from imgproc.core.image_ops import Thumbnail
from imgproc.core.trace_format import parse_trace

SOURCE = "workloads/example.jsonl"


def ours(**fields: object) -> str:
    line = {"id": "j1", "at": 0.5, "service_s": 0.2, "user": "u"}
    line.update(fields)
    return json.dumps({k: v for k, v in line.items() if v is not ...})


def seed_line(size_us: float = 200000.0, wait_us: float = 200000.0, user: str = "normal") -> str:
    return json.dumps(
        {
            "user_id": user,
            "image_path": "/path/to/new/pic.png",
            "size": size_us,
            "submitTime": None,
            "jobInterupt": wait_us,
        }
    )


def the_only_error(lines: list[str]) -> TraceError:
    with pytest.raises(TraceValidationFailed) as caught:
        parse_trace(lines, SOURCE)
    assert len(caught.value.errors) == 1
    return caught.value.errors[0]


def assert_reported(error: TraceError, line: int, field: str, expected: str) -> None:
    assert (error.source, error.line, error.field) == (SOURCE, line, field)
    assert expected in error.problem
    assert str(error).startswith(f"{SOURCE}:{line}: field '{field}': ")


GOOD = ours(id="a", at=0.1)


def test_parses_our_format_into_columns_in_seconds() -> None:
    lines = [
        ours(id="a", at=0.2, service_s=0.19, user="normal"),
        ours(id="b", at=0.4, service_s=..., user="demo", input="in/a.jpg",
             output="out/a.jpg", ops=[{"op": "thumbnail", "size": 256}]),
    ]
    trace = parse_trace(lines, SOURCE).trace
    assert trace.ids == ["a", "b"]
    assert trace.arrival_s.tolist() == [0.2, 0.4]
    assert trace.service_s[0] == 0.19 and np.isnan(trace.service_s[1])
    assert trace.users == ["normal", "demo"]
    assert trace.job(1).ops == (Thumbnail(op="thumbnail", size=256),)
    assert (trace.job(1).input, trace.job(1).output) == ("in/a.jpg", "out/a.jpg")


def test_parses_the_seed_format_as_seconds_with_cumulative_arrivals() -> None:
    lines = [seed_line(150000.0, 200000.0), seed_line(250000.0, 40000.0, user="burst")]
    trace = parse_trace(lines, "seed/burstWorkload.log").trace
    assert trace.arrival_s.tolist() == pytest.approx([0.2, 0.24])
    assert trace.service_s.tolist() == pytest.approx([0.15, 0.25])
    assert trace.users == ["normal", "burst"]
    assert trace.ids == ["burstWorkload-000001", "burstWorkload-000002"]


def test_recognises_each_format_from_its_first_line() -> None:
    assert len(parse_trace([seed_line()], "s.log").trace) == 1
    assert len(parse_trace(["", GOOD], "o.jsonl").trace) == 1


def test_converts_the_seed_burst_recipe_to_7201_jobs_ending_at_1200_04_s() -> None:
    waits = [200000.0] * 300 + [40000.0] * 1501 + [200000.0] * 5400
    trace = parse_trace([seed_line(wait_us=w) for w in waits], "burst.log").trace
    assert len(trace) == 7201
    assert trace.arrival_s[299] == pytest.approx(60.0)
    assert trace.arrival_s[1800] == pytest.approx(120.04)
    assert trace.duration_s == pytest.approx(1200.04)


def test_rejects_a_line_that_is_not_json() -> None:
    error = the_only_error([GOOD, '{"id": "b", "at": 1,'])
    assert_reported(error, 2, "<line>", "expected a JSON object")


def test_rejects_a_number_too_long_for_python_naming_its_line() -> None:
    huge = '{"id": "b", "at": ' + "9" * 5000 + ', "service_s": 1, "user": "u"}'
    error = the_only_error([GOOD, huge])
    assert_reported(error, 2, "<line>", "expected numbers of a readable length, got one too long")


def test_rejects_a_line_that_is_json_but_not_an_object() -> None:
    assert_reported(the_only_error(["[1, 2]"]), 1, "<line>", "expected a JSON object, got list")


def test_rejects_a_line_with_a_missing_id() -> None:
    assert_reported(the_only_error([ours(id=...)]), 1, "id", "required")


def test_rejects_a_job_without_ops_or_service_time() -> None:
    error = the_only_error([ours(service_s=...)])
    assert_reported(error, 1, "service_s", "expected seconds")


def test_rejects_an_arrival_given_as_a_string() -> None:
    error = the_only_error([ours(at="0.5")])
    assert_reported(error, 1, "at", "valid number")
    assert "'0.5'" in error.problem


def test_rejects_a_service_time_given_as_a_boolean() -> None:
    assert_reported(the_only_error([ours(service_s=True)]), 1, "service_s", "valid number")


def test_rejects_a_trace_with_a_negative_arrival() -> None:
    error = the_only_error([GOOD, ours(id="b", at=-1.0)])
    assert_reported(error, 2, "at", "greater than or equal to 0")


def test_rejects_a_negative_service_time() -> None:
    error = the_only_error([ours(service_s=-0.1)])
    assert_reported(error, 1, "service_s", "greater than or equal to 0")


def test_rejects_an_unknown_field_and_lists_the_known_ones() -> None:
    error = the_only_error([ours(colour="red")])
    assert_reported(error, 1, "colour", "unknown field; expected only: id, at, user")


def test_rejects_a_repeated_id() -> None:
    error = the_only_error([GOOD, ours(id="a", at=0.2)])
    assert_reported(error, 2, "id", "expected a unique id, 'a' is repeated")


def test_rejects_an_arrival_before_the_previous_one() -> None:
    error = the_only_error([ours(id="a", at=5.0), ours(id="b", at=4.0)])
    assert_reported(error, 2, "at", "expected arrivals in order")


def test_rejects_a_job_with_ops_but_no_input() -> None:
    line = ours(ops=[{"op": "grayscale"}], output="out/x.png")
    assert_reported(the_only_error([line]), 1, "input", "expected a path")


def test_rejects_an_invalid_image_operation_naming_the_nested_field() -> None:
    line = ours(ops=[{"op": "thumbnail", "size": 0}], input="a", output="b")
    assert_reported(the_only_error([line]), 1, "ops.0.thumbnail.size", "greater than 0")


def test_rejects_a_seed_line_with_a_negative_size() -> None:
    error = the_only_error([seed_line(size_us=-5.0)])
    assert_reported(error, 1, "size", "greater than or equal to 0")


@pytest.mark.parametrize("field", ["at", "service_s"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_rejects_a_non_finite_time_naming_its_field(field: str, value: float) -> None:
    assert_reported(the_only_error([ours(**{field: value})]), 1, field, "finite number")


def test_rejects_a_service_time_longer_than_a_month() -> None:
    error = the_only_error([ours(service_s=30 * 24 * 3600 + 1)])
    assert_reported(error, 1, "service_s", "less than or equal to 2592000")


def test_rejects_an_arrival_more_than_a_year_after_the_start() -> None:
    assert_reported(the_only_error([ours(at=1e9)]), 1, "at", "less than or equal to")


def test_rejects_a_non_finite_op_parameter_naming_the_nested_field() -> None:
    line = ours(ops=[{"op": "rotate", "degrees": float("inf")}], input="a", output="b")
    assert_reported(the_only_error([line]), 1, "ops.0.rotate.degrees", "finite number")


def test_rejects_seed_waits_that_add_up_to_more_than_a_year() -> None:
    half_a_year_us = 184 * 24 * 3600 * 1e6
    error = the_only_error([seed_line(wait_us=half_a_year_us), seed_line(wait_us=half_a_year_us)])
    assert_reported(error, 2, "jobInterupt", "expected arrivals within")


def test_reports_every_bad_line_and_returns_nothing() -> None:
    lines = [GOOD, "nope", ours(id="b", at=-1), ours(id="c", at=1.0)]
    with pytest.raises(TraceValidationFailed) as caught:
        parse_trace(lines, SOURCE)
    assert [e.line for e in caught.value.errors] == [2, 3]
    assert "nothing was replayed" in str(caught.value)


def test_skip_invalid_keeps_the_good_lines_and_lists_the_skipped_ones() -> None:
    lines = [GOOD, "nope", ours(id="b", at=-1), ours(id="c", at=1.0)]
    parsed = parse_trace(lines, SOURCE, skip_invalid=True)
    assert parsed.trace.ids == ["a", "c"]
    assert [(e.line, e.field) for e in parsed.skipped] == [(2, "<line>"), (3, "at")]


def _valid_lines(n: int) -> list[dict]:
    return [{"id": f"j{i}", "at": i * 0.5, "service_s": 0.2, "user": "u"} for i in range(n)]


def _mutations(index: int) -> list:
    """Ways to make line ``index`` invalid (and only it: a rejected line is not
    kept, so the next line is still compared with an accepted one)."""
    always = [
        lambda d: json.dumps(d)[:-1],
        lambda d: {k: v for k, v in d.items() if k != "id"},
        lambda d: {**d, "at": str(d["at"])},
        lambda d: {**d, "at": -1.0},
        lambda d: {**d, "service_s": -1},
        lambda d: {**d, "extra": 1},
        lambda d: {**d, "ops": [{"op": "blur", "radius": 1}], "output": "o"},
    ]
    after_the_first = [
        lambda d: {**d, "id": "j0"},
        lambda d: {**d, "at": d["at"] - 0.75},
    ]
    return always + (after_the_first if index > 0 else [])


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(min_value=1, max_value=12))
def test_any_line_mutated_to_be_invalid_is_reported_with_its_line_number(
    data: st.DataObject, n: int
) -> None:
    lines = _valid_lines(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1), label="index")
    mutate = data.draw(st.sampled_from(_mutations(index)), label="mutation")
    mutated = mutate(lines[index])
    texts = [json.dumps(d) for d in lines]
    texts[index] = mutated if isinstance(mutated, str) else json.dumps(mutated)
    with pytest.raises(TraceValidationFailed) as caught:
        parse_trace(texts, SOURCE)
    assert [e.line for e in caught.value.errors] == [index + 1]
