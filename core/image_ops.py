"""The image operations a job may ask for, as a validated schema.

Only the description lives here; executing them on pixels is an adapter's work.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thumbnail(_Op):
    op: Literal["thumbnail"]
    size: int = Field(gt=0, le=16384, description="longest edge in pixels")


class Resize(_Op):
    op: Literal["resize"]
    width: int = Field(gt=0, le=65535)
    height: int = Field(gt=0, le=65535)


class Crop(_Op):
    op: Literal["crop"]
    left: int = Field(ge=0)
    top: int = Field(ge=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class Rotate(_Op):
    op: Literal["rotate"]
    degrees: float


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
