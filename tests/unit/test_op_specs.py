"""Ops written short, as a command line takes them, parse to their models; a bad one is a
BadOpSpec that names the spec and says what was expected."""

from __future__ import annotations

import re

import pytest

from imgproc.core.image_ops import (
    Blur,
    Convert,
    Crop,
    Grayscale,
    ImageOp,
    Resize,
    Rotate,
    Sharpen,
    Thumbnail,
)
from imgproc.core.op_specs import FORMS, BadOpSpec, parse_op, validate_op

EXPECTED_FORMS = "expected one of " + ", ".join(FORMS)


@pytest.mark.parametrize(("spec", "op"), [
    ("thumbnail:256", Thumbnail(op="thumbnail", size=256)),
    ("resize:640x480", Resize(op="resize", width=640, height=480)),
    ("crop:10,20,100x50", Crop(op="crop", left=10, top=20, width=100, height=50)),
    ("rotate:-90", Rotate(op="rotate", degrees=-90.0)),
    ("rotate:45.5", Rotate(op="rotate", degrees=45.5)),
    ("blur:2.5", Blur(op="blur", radius=2.5)),
    ("grayscale", Grayscale(op="grayscale")),
    ("sharpen", Sharpen(op="sharpen")),
    ("convert:webp", Convert(op="convert", format="webp", quality=85)),
    ("convert:jpeg:70", Convert(op="convert", format="jpeg", quality=70)),
    ("convert:png", Convert(op="convert", format="png", quality=85)),
    ("Thumbnail:256", Thumbnail(op="thumbnail", size=256)),
    ("resize:640X480", Resize(op="resize", width=640, height=480)),
    ("CONVERT:WEBP", Convert(op="convert", format="webp", quality=85)),
    ("GrayScale", Grayscale(op="grayscale")),
    ("  thumbnail:256  ", Thumbnail(op="thumbnail", size=256)),
])
def test_every_form_parses_to_its_op(spec: str, op: ImageOp) -> None:
    assert parse_op(spec) == op


@pytest.mark.parametrize(("spec", "reason"), [
    ("", "unknown op ''"),
    ("   ", "unknown op ''"),
    ("foo", "unknown op 'foo'"),
    ("foo:1", "unknown op 'foo'"),
    (":256", "unknown op ''"),
    ("thumbnail", "thumbnail needs a value"),
    ("convert:", "convert needs a value"),
    ("thumbnail:abc", "'abc' is not a whole number"),
    ("thumbnail:256.0", "'256.0' is not a whole number"),
    ("crop:a,0,10x10", "'a' is not a whole number"),
    ("convert:jpeg:high", "'high' is not a whole number"),
    ("rotate:left", "'left' is not a number"),
    ("blur:much", "'much' is not a number"),
    ("grayscale:1", "grayscale takes no value"),
    ("sharpen:2", "sharpen takes no value"),
    ("crop:1,2", "crop takes LEFT,TOP,WIDTHxHEIGHT, got 2 value(s)"),
    ("crop:1,2,3", "'3' is not WIDTHxHEIGHT"),
    ("resize:640", "'640' is not WIDTHxHEIGHT"),
    ("resize:640x480x3", "'640x480x3' is not WIDTHxHEIGHT"),
    ("resize:-1x10", "'-1x10' is not WIDTHxHEIGHT"),
])
def test_a_spec_in_no_form_names_itself_and_lists_the_forms(spec: str, reason: str) -> None:
    with pytest.raises(BadOpSpec) as caught:
        parse_op(spec)
    assert caught.value.spec == spec
    assert caught.value.reason == f"{reason}; {EXPECTED_FORMS}"
    assert str(caught.value) == f"op '{spec}': {reason}; {EXPECTED_FORMS}"


@pytest.mark.parametrize(("spec", "reason"), [
    ("thumbnail:0", "thumbnail.size: Input should be greater than 0"),
    ("thumbnail:-5", "thumbnail.size: Input should be greater than 0"),
    ("thumbnail:99999", "thumbnail.size: Input should be less than or equal to 16384"),
    ("resize:0x480", "resize.width: Input should be greater than 0"),
    ("resize:640x70000", "resize.height: Input should be less than or equal to 65535"),
    ("crop:-1,0,10x10", "crop.left: Input should be greater than or equal to 0"),
    ("crop:0,0,0x10", "crop.width: Input should be greater than 0"),
    ("rotate:3601", "rotate.degrees: Input should be less than or equal to 3600"),
    ("blur:0", "blur.radius: Input should be greater than 0"),
    ("convert:gif", "convert.format: Input should be 'jpeg', 'png' or 'webp'"),
    ("convert:jpeg:0", "convert.quality: Input should be greater than or equal to 1"),
    ("convert:jpeg:101", "convert.quality: Input should be less than or equal to 100"),
])
def test_a_value_out_of_range_names_the_field_and_its_limit(spec: str, reason: str) -> None:
    with pytest.raises(BadOpSpec, match=f"^{re.escape(f'op {spec!r}: {reason}')}$"):
        parse_op(spec)


@pytest.mark.parametrize("spec", ["crop:1,2,3x4,5", "crop:1,2,3x4,"])
def test_a_crop_with_a_value_too_many_is_refused(spec: str) -> None:
    with pytest.raises(BadOpSpec, match=re.escape(f"op '{spec}': ")):
        parse_op(spec)


@pytest.mark.parametrize("spec", ["thumbnail:256", "crop:10,20,100x50", "convert:jpeg:70",
                                  "rotate:-90", "grayscale"])
def test_a_parsed_op_round_trips_through_its_json_object(spec: str) -> None:
    op = parse_op(spec)
    assert validate_op(op.model_dump()) == op


def test_an_op_given_as_its_json_object_is_validated() -> None:
    assert validate_op({"op": "thumbnail", "size": 256}) == Thumbnail(op="thumbnail", size=256)


@pytest.mark.parametrize(("value", "reason"), [
    ({"op": "thumbnail"}, "thumbnail.size: Field required"),
    ({"op": "thumbnail", "size": 0}, "thumbnail.size: Input should be greater than 0"),
    ({"op": "thumbnail", "size": 256, "width": 1}, "thumbnail.width: Extra inputs are not"),
    ({"op": "convert", "format": "gif"}, "convert.format: Input should be 'jpeg', 'png'"),
    ({"op": "nope"}, "op: Input tag 'nope' found using 'op' does not match"),
    ({"size": 256}, "op: Unable to extract tag using discriminator 'op'"),
])
def test_a_bad_json_object_is_a_bad_op_spec_naming_the_field(value: dict, reason: str) -> None:
    with pytest.raises(BadOpSpec) as caught:
        validate_op(value)
    assert caught.value.spec == str(value)
    assert caught.value.reason.startswith(reason)
