"""A job message with a non-finite or absurd number is refused, naming the field, before any
worker acts on it (a dead letter, not a worker asleep forever)."""

from __future__ import annotations

import json

import pytest

from imgproc.core.messages import BadMessage, JobMessage
from imgproc.core.validation import MAX_SERVICE_S


def body(**fields: object) -> bytes:
    job = {"v": 1, "job_id": "j1", "submitted_at": 1_700_000_000.0, "service_s": 0.2}
    job.update(fields)
    return json.dumps(job).encode()


def image_job(op: dict) -> bytes:
    return body(ops=[op], input="a.jpg", output="b.jpg")


def refusal(raw: bytes) -> str:
    with pytest.raises(BadMessage) as caught:
        JobMessage.decode(raw)
    return caught.value.reason


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_service_time_is_refused_naming_the_field(value):
    assert refusal(body(service_s=value)) == "service_s: Input should be a finite number"


def test_a_number_too_large_for_a_float_is_refused_as_non_finite():
    raw = body().replace(b'"service_s": 0.2', b'"service_s": 1e400')
    assert refusal(raw) == "service_s: Input should be a finite number"


@pytest.mark.parametrize("value, problem", [
    (-0.1, "greater than or equal to 0"), (MAX_SERVICE_S + 1, "less than or equal to 2592000"),
])
def test_a_negative_or_longer_than_a_month_service_time_is_refused(value, problem):
    assert refusal(body(service_s=value)).startswith(f"service_s: Input should be {problem}")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 1e12])
def test_a_non_finite_negative_or_far_future_submission_time_is_refused(value):
    assert refusal(body(submitted_at=value)).startswith("submitted_at: ")


@pytest.mark.parametrize("op, field", [
    ({"op": "rotate", "degrees": float("inf")}, "ops.0.rotate.degrees"),
    ({"op": "rotate", "degrees": float("nan")}, "ops.0.rotate.degrees"),
    ({"op": "rotate", "degrees": 1e9}, "ops.0.rotate.degrees"),
    ({"op": "blur", "radius": float("nan")}, "ops.0.blur.radius"),
    ({"op": "resize", "width": 10**6, "height": 10}, "ops.0.resize.width"),
    ({"op": "crop", "left": 10**9, "top": 0, "width": 1, "height": 1}, "ops.0.crop.left"),
    ({"op": "thumbnail", "size": -1}, "ops.0.thumbnail.size"),
    ({"op": "convert", "format": "jpeg", "quality": 101}, "ops.0.convert.quality"),
])
def test_an_op_parameter_out_of_range_is_refused_naming_the_op_field(op, field):
    assert refusal(image_job(op)).startswith(f"{field}: ")


def test_a_month_of_service_at_any_clock_reading_is_still_a_job():
    job = JobMessage.decode(body(service_s=MAX_SERVICE_S, submitted_at=0))
    assert job.service_s == MAX_SERVICE_S
