"""Image operations written short, as a command line takes them: ``thumbnail:256``,
``convert:webp``, ``resize:640x480``.

Every form, with what it means:

- ``thumbnail:SIZE``: longest edge at most SIZE pixels;
- ``resize:WIDTHxHEIGHT``;
- ``crop:LEFT,TOP,WIDTHxHEIGHT``;
- ``rotate:DEGREES``: counter-clockwise;
- ``blur:RADIUS``;
- ``grayscale``, ``sharpen``;
- ``convert:FORMAT[:QUALITY]``: jpeg, png or webp.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from imgproc.core.errors import ImgprocError
from imgproc.core.image_ops import ImageOp
from imgproc.core.validation import first_problem

FORMS: Final = ("thumbnail:SIZE", "resize:WIDTHxHEIGHT", "crop:LEFT,TOP,WIDTHxHEIGHT",
                "rotate:DEGREES", "blur:RADIUS", "grayscale", "sharpen",
                "convert:FORMAT[:QUALITY]")
_SIZE = re.compile(r"(\d+)x(\d+)", re.ASCII)
_NUMBER = re.compile(r"-?\d+(\.\d+)?", re.ASCII)
_OPS: Final[TypeAdapter[ImageOp]] = TypeAdapter(ImageOp)


class BadOpSpec(ImgprocError):
    """An op written in none of the forms, or with values out of range."""

    def __init__(self, spec: str, reason: str) -> None:
        self.spec = spec
        self.reason = reason
        super().__init__(f"op '{spec}': {reason}")


def parse_op(spec: str) -> ImageOp:
    """``spec`` as a validated op; :class:`BadOpSpec` says what was expected."""
    name, _, rest = spec.strip().partition(":")
    try:
        fields = _fields(name.lower(), rest)
    except ValueError as exc:
        raise BadOpSpec(spec, f"{exc}; expected one of {', '.join(FORMS)}") from None
    try:
        return _OPS.validate_python({"op": name.lower(), **fields})
    except ValidationError as exc:
        raise BadOpSpec(spec, first_problem(exc, "op")) from None


def validate_op(value: dict[str, Any]) -> ImageOp:
    """An op given as its JSON object (``{"op": "thumbnail", "size": 256}``)."""
    try:
        return _OPS.validate_python(value)
    except ValidationError as exc:
        raise BadOpSpec(str(value), first_problem(exc, "op")) from None


def _fields(name: str, rest: str) -> dict[str, Any]:
    if name in ("grayscale", "sharpen"):
        if rest:
            raise ValueError(f"{name} takes no value")
        return {}
    if not rest:
        raise ValueError(f"{name or 'an op'} needs a value" if name in _NEEDS else
                         f"unknown op '{name}'")
    if name == "thumbnail":
        return {"size": _number(rest, int)}
    if name == "resize":
        width, height = _size(rest)
        return {"width": width, "height": height}
    if name == "crop":
        values = rest.split(",")
        if len(values) != 3:
            raise ValueError(f"crop takes LEFT,TOP,WIDTHxHEIGHT, got {len(values)} value(s)")
        left, top, size = values
        width, height = _size(size)
        return {"left": _number(left, int), "top": _number(top, int), "width": width,
                "height": height}
    if name == "rotate":
        return {"degrees": _number(rest, float)}
    if name == "blur":
        return {"radius": _number(rest, float)}
    if name == "convert":
        fmt, _, quality = rest.partition(":")
        return {"format": fmt.lower(), **({"quality": _number(quality, int)} if quality else {})}
    raise ValueError(f"unknown op '{name}'")


_NEEDS: Final = ("thumbnail", "resize", "crop", "rotate", "blur", "convert")


def _number(text: str, kind: type[int] | type[float]) -> int | float:
    try:
        if not _NUMBER.fullmatch(text):
            raise ValueError(text)
        return kind(text)
    except ValueError:
        raise ValueError(f"'{text}' is not {'a whole number' if kind is int else 'a number'}") \
            from None


def _size(text: str) -> tuple[int, int]:
    match = _SIZE.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(f"'{text}' is not WIDTHxHEIGHT")
    return int(match[1]), int(match[2])
