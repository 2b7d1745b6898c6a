"""Synthetic photographs, the thumbnail workload made over them, and ``imgproc photos``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageStat

from imgproc.adapters.images import ImageProcessor
from imgproc.adapters.photos import (
    RECIPES,
    make_photos,
    measure_service_times,
    size_for_megapixels,
    thumbnail_workload,
)
from imgproc.cli.photos import photos
from imgproc.core.errors import ConfigurationError
from imgproc.core.trace_format import parse_trace

REPO = Path(__file__).resolve().parents[2]
SMALL = [(96, 64), (40, 40)]


def contents(paths: list[Path]) -> list[bytes]:
    return [p.read_bytes() for p in paths]


def test_the_same_seed_writes_byte_identical_files(tmp_path):
    first = make_photos(tmp_path / "a", 4, SMALL, ("jpeg", "png"), seed=5)
    again = make_photos(tmp_path / "b", 4, SMALL, ("jpeg", "png"), seed=5)
    assert [p.name for p in first] == [p.name for p in again]
    assert contents(first) == contents(again)


def test_a_different_seed_writes_different_pictures(tmp_path):
    first = make_photos(tmp_path / "a", 2, SMALL, ("jpeg",), seed=5)
    other = make_photos(tmp_path / "b", 2, SMALL, ("jpeg",), seed=6)
    assert all(a != b for a, b in zip(contents(first), contents(other), strict=True))


def test_photos_of_one_set_differ_from_each_other(tmp_path):
    paths = make_photos(tmp_path, 3, [(64, 48)], ("png",), seed=1)
    assert len(set(contents(paths))) == 3


def test_photos_walk_through_every_size_and_format_pair_in_order(tmp_path):
    paths = make_photos(tmp_path, 5, SMALL, ("jpeg", "png"), seed=1)
    assert [p.name for p in paths] == [
        "photo-0001-96x64.jpg", "photo-0002-96x64.png", "photo-0003-40x40.jpg",
        "photo-0004-40x40.png", "photo-0005-96x64.jpg",
    ]
    opened = [Image.open(p) for p in paths]
    assert [im.size for im in opened] == [(96, 64), (96, 64), (40, 40), (40, 40), (96, 64)]
    assert [im.format for im in opened] == ["JPEG", "PNG", "JPEG", "PNG", "JPEG"]


def test_a_size_may_be_given_in_megapixels(tmp_path):
    assert size_for_megapixels(12) == (4000, 3000)
    [path] = make_photos(tmp_path, 1, 0.01, ("webp",), seed=1)
    assert Image.open(path).format == "WEBP" and Image.open(path).size == size_for_megapixels(0.01)


def test_photos_have_grain_and_edges_not_flat_colour(tmp_path):
    [path] = make_photos(tmp_path, 1, [(320, 240)], ("jpeg",), seed=2)
    picture = Image.open(path)
    flat = tmp_path / "flat.jpg"
    Image.new("RGB", picture.size, (120, 90, 60)).save(flat, quality=90)
    assert min(ImageStat.Stat(picture).stddev) > 15
    assert path.stat().st_size > 5 * flat.stat().st_size


def test_a_twelve_megapixel_jpeg_has_the_size_asked_for(tmp_path):
    [path] = make_photos(tmp_path, 1, [(4000, 3000)], ("jpeg",), seed=1)
    assert Image.open(path).size == (4000, 3000)


@pytest.mark.parametrize("count, sizes, formats, seed", [
    (-1, SMALL, ("jpeg",), 1), (1, [(0, 10)], ("jpeg",), 1), (1, [(10000, 6000)], ("jpeg",), 1),
    (1, SMALL, ("gif",), 1), (1, [], ("jpeg",), 1), (1, SMALL, ("jpeg",), -3),
])
def test_impossible_requests_are_configuration_errors(tmp_path, count, sizes, formats, seed):
    with pytest.raises(ConfigurationError):
        make_photos(tmp_path, count, sizes, formats, seed=seed)


def test_the_photos_command_writes_and_lists_the_files(tmp_path):
    args = ["--out", str(tmp_path), "--count", "2", "--size", "48x32", "--format", "png",
            "--seed", "4"]
    result = CliRunner().invoke(photos, args)
    assert result.exit_code == 0, result.output
    assert "photo-0002-48x32.png" in result.output and "wrote 2 photo(s)" in result.output
    assert Image.open(tmp_path / "photo-0001-48x32.png").size == (48, 32)


def test_the_photos_command_rejects_a_malformed_size(tmp_path):
    result = CliRunner().invoke(photos, ["--out", str(tmp_path), "--size", "48by32"])
    assert result.exit_code == 2 and "WIDTHxHEIGHT" in result.output


PHOTO_NAMES = ["photos/a.jpg", "photos/b.jpg"]
TIMES = {(photo, name): 0.001 * (k + 1)
         for k, (photo, name) in enumerate((p, r[0]) for p in PHOTO_NAMES for r in RECIPES)}


def workload(seed: int = 1) -> list[dict]:
    return thumbnail_workload(PHOTO_NAMES, jobs=40, rate=2.0, seed=seed, service_s=TIMES)


def test_the_thumbnail_workload_is_a_valid_reproducible_trace():
    lines = workload()
    assert lines == workload() and lines != workload(seed=2)
    trace = parse_trace([json.dumps(line) for line in lines], "thumbs.jsonl").trace
    assert len(trace) == 40 and all(job.ops for job in trace)
    assert all(job.output == f"thumbs/{job.id}.jpg" for job in trace)


def test_each_workload_job_carries_the_time_measured_for_its_photo_and_recipe():
    recipe_of = {json.dumps([op.model_dump() for op in ops]): name for name, _, ops in RECIPES}
    lines = workload()
    for line in lines:
        recipe = recipe_of[json.dumps(line["ops"])]
        assert line["service_s"] == pytest.approx(TIMES[(line["input"], recipe)])
    assert {recipe_of[json.dumps(line["ops"])] for line in lines} == {r[0] for r in RECIPES}


def test_measured_service_times_are_positive_for_every_photo_and_recipe(tmp_path):
    make_photos(tmp_path / "photos", 1, [(1280, 1080)], ("jpeg",), seed=1)
    processor = ImageProcessor.local(tmp_path, tmp_path / "out")
    times = measure_service_times(processor, ["photos/photo-0001-1280x1080.jpg"], repeats=1)
    assert len(times) == len(RECIPES) and all(t > 0 for t in times.values())


def test_the_shipped_thumbnail_workload_reads_the_documented_photo_set():
    path = REPO / "workloads" / "thumbnails.jsonl"
    trace = parse_trace(path.read_text().splitlines(), str(path)).trace
    documented = {f"photos/photo-{n:04d}-{size}.jpg" for n, size in
                  [(1, "4000x3000"), (3, "1920x1080"), (5, "4000x3000")]}
    assert len(trace) == 60 and {job.input for job in trace} <= documented
    assert 25 <= trace.arrival_s[-1] <= 40
