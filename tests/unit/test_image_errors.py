"""A failed image job says what went wrong with the paths the job gave, never the configured
roots: results travel to whoever submitted the job."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from imgproc.adapters.images import ImageJobError, ImageProcessor


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "in" / "photos").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    Image.new("RGB", (40, 30), "red").save(tmp_path / "in" / "photos" / "a.png")
    return tmp_path / "in", tmp_path / "out"


def missing_input(roots, monkeypatch):
    return "photos/none.jpg", "t.png"


def directory_input(roots, monkeypatch):
    return "photos", "t.png"


def input_linked_outside(roots, monkeypatch):
    (roots[0] / "photos" / "link.png").symlink_to(roots[1].parent)
    return "photos/link.png", "t.png"


def input_in_a_symlink_loop(roots, monkeypatch):
    (roots[0] / "photos" / "x.png").symlink_to(roots[0] / "photos" / "y.png")
    (roots[0] / "photos" / "y.png").symlink_to(roots[0] / "photos" / "x.png")
    return "photos/x.png", "t.png"


def unreadable_input(roots, monkeypatch):
    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", os.fspath(path))

    monkeypatch.setattr(Path, "open", refuse)
    return "photos/a.png", "t.png"


def not_an_image(roots, monkeypatch):
    (roots[0] / "photos" / "notes.png").write_text("not a picture\n" * 20)
    return "photos/notes.png", "t.png"


def truncated_image(roots, monkeypatch):
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), "red").save(buffer, format="JPEG")
    (roots[0] / "photos" / "cut.jpg").write_bytes(buffer.getvalue()[:600])
    return "photos/cut.jpg", "t.png"


def too_large(roots, monkeypatch):
    Image.new("RGB", (2000, 1000)).save(roots[0] / "photos" / "big.png")
    return "photos/big.png", "t.png"


def unwritable_output(roots, monkeypatch):
    (roots[1] / "thumbs").write_text("a file where a folder should be")
    return "photos/a.png", "thumbs/t.png"


def output_linked_outside(roots, monkeypatch):
    (roots[1] / "away").symlink_to(roots[1].parent, target_is_directory=True)
    return "photos/a.png", "away/t.png"


@pytest.mark.parametrize("case", [
    missing_input, directory_input, input_linked_outside, input_in_a_symlink_loop,
    unreadable_input, not_an_image, truncated_image, too_large, unwritable_output,
    output_linked_outside,
], ids=lambda case: case.__name__)
def test_a_job_error_names_the_jobs_paths_and_never_a_configured_root(roots, monkeypatch, case):
    input, output = case(roots, monkeypatch)
    processor = ImageProcessor.local(*roots, max_pixels=1_000_000)
    with pytest.raises(ImageJobError) as caught:
        processor.process([], input, output, "job-1")
    message = str(caught.value)
    assert input in message
    for root in (roots[0].parent, roots[0].parent.resolve()):
        assert str(root) not in message
