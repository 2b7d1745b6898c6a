"""The pixel limit holds for every image a job makes, not only the one it reads."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgproc.adapters.images import ImageJobError, ImageProcessor
from imgproc.core.image_ops import Resize, Rotate, Thumbnail, rotated_size


def noisy(width: int, height: int) -> Image.Image:
    pixels = np.random.default_rng(0).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, mode="RGB")


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "in").mkdir()
    noisy(100, 100).save(tmp_path / "in" / "a.png")
    return tmp_path / "in", tmp_path / "out"


def rotate(degrees: float) -> Rotate:
    return Rotate(op="rotate", degrees=degrees)


@pytest.mark.parametrize("size", [(100, 100), (400, 300), (37, 211), (1, 1)])
@pytest.mark.parametrize("degrees", [0, 1, 30, 45, 90, 91.5, 180, 270, -33.3, 359.9])
def test_the_computed_rotated_size_is_the_canvas_pillow_makes(size, degrees):
    turned = Image.new("L", size).rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
    assert rotated_size(size, degrees) == turned.size


def test_a_rotate_chain_past_the_limit_fails_naming_the_op_size_and_limit_and_writes_nothing(
        roots):
    once = rotated_size((100, 100), 45)
    twice = rotated_size(once, 45)
    limit = once[0] * once[1] + 1
    with pytest.raises(ImageJobError) as caught:
        ImageProcessor.local(*roots, max_pixels=limit).process(
            [rotate(45), rotate(45)], "a.png", "r.png", "job-1")
    assert caught.value.op_index == 1
    assert f"rotate would make a {twice[0]}x{twice[1]} image" in str(caught.value)
    assert f"limit of {limit:,}" in str(caught.value)
    assert not roots[1].exists()


def test_a_chain_bound_to_pass_the_limit_is_refused_from_the_header_before_decoding(roots):
    buffer = io.BytesIO()
    noisy(400, 300).save(buffer, format="JPEG")
    (roots[0] / "head.jpg").write_bytes(buffer.getvalue()[:2000])
    with pytest.raises(ImageJobError, match="rotate would make") as caught:
        ImageProcessor.local(*roots, max_pixels=200_000).process(
            [Thumbnail(op="thumbnail", size=400), rotate(45)], "head.jpg", "r.jpg", "job-1")
    assert caught.value.op_index == 1


def test_an_upscale_past_the_limit_fails_after_a_shrink_that_fits(roots):
    ops = [Thumbnail(op="thumbnail", size=50), Resize(op="resize", width=200, height=200)]
    with pytest.raises(ImageJobError, match="resize would make a 200x200 image") as caught:
        ImageProcessor.local(*roots, max_pixels=20_000).process(ops, "a.png", "r.png", "job-1")
    assert caught.value.op_index == 1


def test_a_result_of_exactly_the_limit_is_written(roots):
    ops = [Resize(op="resize", width=200, height=100)]
    done = ImageProcessor.local(*roots, max_pixels=20_000).process(ops, "a.png", "r.png", "job-1")
    assert Image.open(roots[1] / done.url).size == (200, 100)
