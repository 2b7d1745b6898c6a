"""ImageProcessor: each operation on real pixels, output formats, and every way a job can fail."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageStat

from imgproc.adapters.images import ImageJobError, ImageProcessor
from imgproc.adapters.photos import make_photos
from imgproc.adapters.storage.local import CLAIMS_DIR
from imgproc.core.errors import ConfigurationError, ImgprocError
from imgproc.core.image_ops import (
    Blur,
    Convert,
    Crop,
    Grayscale,
    Resize,
    Rotate,
    Sharpen,
    Thumbnail,
)

THUMB_256 = Thumbnail(op="thumbnail", size=256)


def noisy(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, mode="RGB")


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "in").mkdir()
    return tmp_path / "in", tmp_path / "out"


@pytest.fixture
def processor(roots) -> ImageProcessor:
    return ImageProcessor.local(*roots)


def put(roots, name: str, image: Image.Image, **save) -> str:
    image.save(roots[0] / name, **save)
    return name


def files_under(path: Path) -> list[str]:
    """The files under an output root, but the claims recording which job wrote them."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")
                  if p.is_file() and p.relative_to(path).parts[0] != CLAIMS_DIR)


def test_thumbnail_fits_the_longest_edge_and_keeps_the_aspect_ratio(roots, processor):
    put(roots, "a.jpg", noisy(400, 300))
    done = processor.process([Thumbnail(op="thumbnail", size=100)], "a.jpg", "t.jpg", "job-1")
    assert (done.width, done.height) == (100, 75)
    assert Image.open(roots[1] / done.url).size == (100, 75)


def test_thumbnail_never_enlarges_a_small_image(roots, processor):
    put(roots, "a.png", noisy(40, 30))
    assert processor.process([THUMB_256], "a.png", "t.png", "job-1").width == 40


def test_a_twelve_megapixel_jpeg_becomes_a_256_pixel_thumbnail(roots, processor):
    make_photos(roots[0], 1, [(4000, 3000)], ("jpeg",), seed=3)
    done = processor.process([THUMB_256], "photo-0001-4000x3000.jpg", "t.jpg", "job-1")
    assert (done.width, done.height) == (256, 192)


def test_resize_gives_exactly_the_requested_size(roots, processor):
    put(roots, "a.png", noisy(400, 300))
    done = processor.process([Resize(op="resize", width=123, height=45)], "a.png", "r.png", "job-1")
    assert Image.open(roots[1] / done.url).size == (123, 45)


def test_crop_keeps_exactly_the_pixels_of_its_box(roots, processor):
    source = noisy(400, 300)
    put(roots, "a.png", source)
    crop = Crop(op="crop", left=10, top=20, width=50, height=60)
    done = processor.process([crop], "a.png", "c.png", "job-1")
    result = np.asarray(Image.open(roots[1] / done.url))
    assert result.shape == (60, 50, 3)
    assert np.array_equal(result, np.asarray(source)[20:80, 10:60])


def test_crop_outside_the_image_fails_naming_the_op_index(roots, processor):
    put(roots, "a.png", noisy(400, 300))
    ops = [THUMB_256, Crop(op="crop", left=200, top=0, width=100, height=100)]
    with pytest.raises(ImageJobError) as caught:
        processor.process(ops, "a.png", "c.png", "job-1")
    assert caught.value.op_index == 1
    assert "op 1" in str(caught.value) and "256x192" in str(caught.value)
    assert not roots[1].exists() or files_under(roots[1]) == []


def test_rotation_expands_the_canvas_to_hold_the_whole_image(roots, processor):
    put(roots, "a.png", noisy(400, 300))
    quarter = processor.process([Rotate(op="rotate", degrees=90)], "a.png", "r.png", "job-1")
    assert quarter.width == 300
    turned = processor.process([Rotate(op="rotate", degrees=45)], "a.png", "r45.png", "job-1")
    assert turned.width > 400 and turned.height > 300


def test_grayscale_writes_a_single_channel_image(roots, processor):
    put(roots, "a.jpg", noisy(64, 48))
    done = processor.process([Grayscale(op="grayscale")], "a.jpg", "g.jpg", "job-1")
    assert Image.open(roots[1] / done.url).mode == "L"


def test_blur_smooths_and_sharpen_adds_contrast(roots, processor):
    put(roots, "a.png", noisy(64, 48))
    blurred = processor.process([Blur(op="blur", radius=2)], "a.png", "b.png", "job-1")
    blur_then_sharpen = [Blur(op="blur", radius=2), Sharpen(op="sharpen")]
    sharpened = processor.process(blur_then_sharpen, "a.png", "s.png", "job-1")
    files = (roots[0] / "a.png", roots[1] / blurred.url, roots[1] / sharpened.url)
    spread = [ImageStat.Stat(Image.open(p)).stddev[0] for p in files]
    assert spread[1] < spread[0] / 2
    assert spread[2] > spread[1]


def test_convert_sets_the_format_and_its_quality_is_applied(roots, processor):
    put(roots, "a.png", noisy(200, 150))
    low_ops = [Convert(op="convert", format="jpeg", quality=20)]
    high_ops = [Convert(op="convert", format="jpeg", quality=95)]
    low = processor.process(low_ops, "a.png", "low.img", "job-1")
    high = processor.process(high_ops, "a.png", "hi.img", "job-1")
    assert Image.open(roots[1] / low.url).format == Image.open(roots[1] / high.url).format == "JPEG"
    assert low.format == "jpeg" and low.bytes_written < high.bytes_written / 2
    assert high.bytes_written == (roots[1] / high.url).stat().st_size


def test_the_last_convert_wins_over_earlier_ones_and_the_extension(roots, processor):
    put(roots, "a.jpg", noisy(64, 48))
    ops = [Convert(op="convert", format="jpeg"), Convert(op="convert", format="webp")]
    done = processor.process(ops, "a.jpg", "a.jpg.out", "job-1")
    assert Image.open(roots[1] / done.url).format == "WEBP"


def test_without_convert_the_output_extension_names_the_format(roots, processor):
    put(roots, "a.jpg", noisy(64, 48))
    done = processor.process([], "a.jpg", "a.png", "job-1")
    assert Image.open(roots[1] / done.url).format == "PNG"
    with pytest.raises(ImageJobError, match="output format"):
        processor.process([], "a.jpg", "a.xyz", "job-1")


def test_transparent_png_is_flattened_onto_white_for_jpeg(roots, processor):
    put(roots, "a.png", Image.new("RGBA", (20, 10), (255, 0, 0, 0)))
    done = processor.process([Blur(op="blur", radius=1)], "a.png", "a.jpg", "job-1")
    assert Image.open(roots[1] / done.url).getpixel((10, 5)) > (240, 240, 240)


def test_exif_orientation_is_applied_before_the_operations(roots, processor):
    stored = Image.new("RGB", (400, 200), "blue")
    stored.paste((255, 0, 0), (0, 0, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    put(roots, "a.jpg", stored, exif=exif.tobytes())
    done = processor.process([Thumbnail(op="thumbnail", size=100)], "a.jpg", "t.png", "job-1")
    upright = Image.open(roots[1] / done.url).convert("RGB")
    assert upright.size == (50, 100)
    red, _, blue = upright.getpixel((upright.width - 3, 3))
    assert red > 200 and blue < 60


@pytest.mark.parametrize("path, problem", [
    ("../a.jpg", "must not contain '..'"), ("sub/../a.jpg", "must not contain '..'"),
    ("/etc/hostname", "must be relative"), ("", "must be relative"),
])
def test_input_paths_that_could_escape_the_input_root_are_refused(roots, processor, path, problem):
    put(roots, "a.jpg", noisy(8, 8))
    with pytest.raises(ImageJobError, match=f"input path '{path}' {problem}"):
        processor.process([], path, "a.jpg", "job-1")


@pytest.mark.parametrize("path, problem", [
    ("../a.jpg", "must not contain"), ("/tmp/a.jpg", "must be relative"), (".", "leads outside"),
])
def test_output_paths_that_could_escape_the_output_root_are_refused(
        roots, processor, path, problem):
    put(roots, "a.jpg", noisy(8, 8))
    with pytest.raises(ImageJobError, match=f"output path '{path}' {problem}"):
        processor.process([], "a.jpg", path, "job-1")


def test_symlinks_leading_outside_a_root_are_refused(roots, processor, tmp_path):
    put(roots, "a.jpg", noisy(8, 8))
    outside = tmp_path / "outside"
    outside.mkdir()
    noisy(8, 8).save(outside / "secret.jpg")
    (roots[0] / "link.jpg").symlink_to(outside / "secret.jpg")
    roots[1].mkdir()
    (roots[1] / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ImageJobError, match="outside its root"):
        processor.process([], "link.jpg", "a.jpg", "job-1")
    with pytest.raises(ImageJobError, match="outside its root"):
        processor.process([], "a.jpg", "escape/a.jpg", "job-1")
    assert files_under(outside) == ["secret.jpg"]


def test_parent_directories_are_created_under_the_output_root(roots, processor):
    put(roots, "a.jpg", noisy(8, 8))
    done = processor.process([], "a.jpg", "x/y/z.jpg", "job-1")
    assert (roots[1] / done.url) == roots[1].resolve() / "x" / "y" / "z.jpg"


def test_a_failed_write_leaves_no_temporary_file_and_keeps_the_old_output(
        roots, processor, monkeypatch):
    put(roots, "a.jpg", noisy(64, 48))
    first = (roots[1] / processor.process([], "a.jpg", "out.jpg", "job-1").url).read_bytes()

    def half_then_disk_full(self, fp, *args, **kwargs):
        fp.write(b"\xff\xd8 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", half_then_disk_full)
    with pytest.raises(ImageJobError, match="No space left"):
        processor.process([Grayscale(op="grayscale")], "a.jpg", "out.jpg", "job-1")
    assert files_under(roots[1]) == ["out.jpg"]
    assert (roots[1] / "out.jpg").read_bytes() == first


def test_a_truncated_jpeg_is_a_job_error_and_writes_nothing(roots, processor):
    buffer = io.BytesIO()
    noisy(400, 300).save(buffer, format="JPEG")
    (roots[0] / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageJobError, match="truncated") as caught:
        processor.process([THUMB_256], "cut.jpg", "t.jpg", "job-1")
    assert caught.value.input == "cut.jpg"
    assert not (roots[1] / "t.jpg").exists()


def test_a_file_that_is_not_an_image_is_a_job_error(roots, processor):
    (roots[0] / "notes.jpg").write_text("not a picture at all\n" * 20)
    with pytest.raises(ImageJobError, match="not an image"):
        processor.process([], "notes.jpg", "t.jpg", "job-1")


def test_a_missing_input_is_a_job_error(roots, processor):
    with pytest.raises(ImageJobError, match="not found") as caught:
        processor.process([], "nowhere.jpg", "t.jpg", "job-1")
    assert isinstance(caught.value, ImgprocError) and caught.value.reason == "input file not found"


def test_too_many_pixels_is_refused_from_the_header_before_decoding(roots):
    buffer = io.BytesIO()
    noisy(400, 300).save(buffer, format="JPEG")
    (roots[0] / "head.jpg").write_bytes(buffer.getvalue()[:2000])
    with pytest.raises(ImageJobError, match="too many pixels: 400x300"):
        ImageProcessor.local(*roots, max_pixels=1000).process([], "head.jpg", "t.jpg", "job-1")


def test_pillows_decompression_bomb_guard_becomes_a_job_error(roots, monkeypatch):
    put(roots, "a.png", noisy(100, 100))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageJobError, match="too many pixels"):
        ImageProcessor.local(*roots, max_pixels=10**9).process([], "a.png", "t.png", "job-1")


def test_a_resize_past_the_pixel_limit_is_refused_naming_the_op_index(roots):
    put(roots, "a.png", noisy(10, 10))
    huge = Resize(op="resize", width=60000, height=60000)
    with pytest.raises(ImageJobError, match="resize would make a 60000x60000 image") as caught:
        ImageProcessor.local(*roots).process([Grayscale(op="grayscale"), huge], "a.png",
                                             "r.png", "job-1")
    assert caught.value.op_index == 1


def test_a_non_positive_pixel_limit_is_a_configuration_error(roots):
    with pytest.raises(ConfigurationError):
        ImageProcessor.local(*roots, max_pixels=0)


def test_the_files_that_failed_leave_the_output_root_clean(roots, processor):
    (roots[0] / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    with pytest.raises(ImageJobError):
        processor.process([THUMB_256], "bad.png", "deep/dir/t.png", "job-1")
    assert not roots[1].exists() or files_under(roots[1]) == []
