"""The image operations a job may ask for, as a validated schema, and the size each makes.

Only the description and its arithmetic live here; executing them on pixels is an
adapter's work. :func:`output_size` lets the adapter hold every intermediate image
to its pixel limit before Pillow allocates it.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_SIDE = 65535
"""The longest side an op may name: Pillow's limit for most formats, and far past any photo."""

Size = tuple[int, int]


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Thumbnail(_Op):
    op: Literal["thumbnail"]
    size: int = Field(gt=0, le=16384, description="longest edge in pixels")


class Resize(_Op):
    op: Literal["resize"]
    width: int = Field(gt=0, le=MAX_SIDE)
    height: int = Field(gt=0, le=MAX_SIDE)


class Crop(_Op):
    op: Literal["crop"]
    left: int = Field(ge=0, le=MAX_SIDE)
    top: int = Field(ge=0, le=MAX_SIDE)
    width: int = Field(gt=0, le=MAX_SIDE)
    height: int = Field(gt=0, le=MAX_SIDE)


class Rotate(_Op):
    op: Literal["rotate"]
    degrees: float = Field(ge=-3600, le=3600, description="counter-clockwise; ten turns at most")


class Grayscale(_Op):
    op: Literal["grayscale"]


class Blur(_Op):
    op: Literal["blur"]
    radius: float = Field(gt=0, le=100)


class Sharpen(_Op):
    op: Literal["sharpen"]


class Convert(_Op):
    op: Literal["convert"]
    format: Literal["jpeg", "png", "webp"]
    quality: int = Field(default=85, ge=1, le=100)


ImageOp = Annotated[
    Thumbnail | Resize | Crop | Rotate | Grayscale | Blur | Sharpen | Convert,
    Field(discriminator="op"),
]


def thumbnail_size(size: Size, longest: int) -> Size:
    """``size`` scaled so that its longest edge is at most ``longest`` (never enlarged)."""
    width, height = size
    scale = min(1.0, longest / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def rotated_size(size: Size, degrees: float) -> Size:
    """The canvas of Pillow's ``rotate(degrees, expand=True)``, with Pillow's own arithmetic.

    The same float operations in the same order give the same rounding, so the
    size is exact, not an estimate that a limit check could miss by a row.
    """
    width, height = size
    angle = degrees % 360.0
    if angle in (0.0, 180.0):
        return size
    if angle in (90.0, 270.0):
        return height, width
    radians = -math.radians(angle)
    a, b = round(math.cos(radians), 15), round(math.sin(radians), 15)
    d, e = round(-math.sin(radians), 15), round(math.cos(radians), 15)
    cx, cy = width / 2, height / 2
    c = a * -cx + b * -cy + 0.0 + cx
    f = d * -cx + e * -cy + 0.0 + cy
    corners = ((0, 0), (width, 0), (width, height), (0, height))
    xs = [a * x + b * y + c for x, y in corners]
    ys = [d * x + e * y + f for x, y in corners]
    return (math.ceil(max(xs)) - math.floor(min(xs)),
            math.ceil(max(ys)) - math.floor(min(ys)))


def output_size(op: ImageOp, size: Size) -> Size:
    """The size of the image ``op`` makes from an image of ``size``."""
    match op:
        case Thumbnail(size=longest):
            return thumbnail_size(size, longest)
        case Resize(width=width, height=height) | Crop(width=width, height=height):
            return width, height
        case Rotate(degrees=degrees):
            return rotated_size(size, degrees)
    return size
