"""An output belongs to the job that wrote it: another job may not overwrite it, the same
job redelivered may."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from imgproc.adapters.images import ImageJobError, ImageProcessor
from imgproc.adapters.storage.local import CLAIMS_DIR
from imgproc.core.image_ops import Grayscale
from imgproc.core.messages import JobMessage
from imgproc.live.worker import ImageWork

GRAY = [Grayscale(op="grayscale")]


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "in").mkdir()
    Image.new("RGB", (40, 30), "red").save(tmp_path / "in" / "red.png")
    Image.new("RGB", (40, 30), "blue").save(tmp_path / "in" / "blue.png")
    return tmp_path / "in", tmp_path / "out"


@pytest.fixture
def processor(roots) -> ImageProcessor:
    return ImageProcessor.local(*roots)


def test_a_second_job_writing_the_same_output_fails_naming_the_first(roots, processor):
    first = (roots[1] / processor.process([], "red.png", "x/out.png", "job-a").url).read_bytes()
    with pytest.raises(ImageJobError) as caught:
        processor.process([], "blue.png", "x/out.png", "job-b")
    assert "output 'x/out.png' was already written by job 'job-a'" in str(caught.value)
    assert (roots[1] / "x" / "out.png").read_bytes() == first


def test_the_same_job_redelivered_rewrites_its_own_output(roots, processor):
    processor.process([], "red.png", "out.png", "job-a")
    again = processor.process(GRAY, "red.png", "out.png", "job-a")
    assert Image.open(roots[1] / again.url).mode == "L"


def test_two_spellings_of_one_output_path_are_one_output(processor):
    processor.process([], "red.png", "x/out.png", "job-a")
    with pytest.raises(ImageJobError, match="already written by job 'job-a'"):
        processor.process([], "blue.png", "./x//out.png", "job-b")


def test_a_job_whose_write_failed_leaves_the_output_free_for_another(
        roots, processor, monkeypatch):
    def disk_full(self, fp, *args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(Image.Image, "save", disk_full)
        with pytest.raises(ImageJobError, match="No space left"):
            processor.process([], "red.png", "out.png", "job-a")
    assert (roots[1] / processor.process([], "blue.png", "out.png", "job-b").url).exists()


def test_a_job_may_not_write_into_the_claims(roots, processor):
    with pytest.raises(ImageJobError, match="reserved"):
        processor.process([], "red.png", f"{CLAIMS_DIR}/anything.png", "job-a")


def test_the_worker_writes_each_output_as_its_job(processor):
    work = ImageWork(processor)
    work.execute(JobMessage(job_id="job-a", submitted_at=0, ops=GRAY, input="red.png",
                            output="out.png"))
    with pytest.raises(ImageJobError, match="already written by job 'job-a'"):
        work.execute(JobMessage(job_id="job-b", submitted_at=0, ops=GRAY, input="blue.png",
                                output="out.png"))
