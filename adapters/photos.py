"""Reproducible synthetic photographs, and a thumbnail workload over them.

Benchmarks and end-to-end tests need real image files, but we ship none and
fetch none. These "photographs" are made from a seed: a smooth colour field
over a sky-to-ground gradient, a few hard-edged shapes, and per-pixel grain,
so that JPEG compresses them the way it compresses a photograph (a flat colour
would make decoding and encoding unrealistically cheap). The same seed gives
byte-identical files on the same machine (Pillow's encoders are deterministic
for the same pixels and settings).
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from imgproc.adapters.images import ImageProcessor
from imgproc.core.errors import ConfigurationError
from imgproc.core.image_ops import (
    Blur,
    Convert,
    Crop,
    Grayscale,
    ImageOp,
    Rotate,
    Sharpen,
    Thumbnail,
)

SUFFIXES = MappingProxyType({"jpeg": ".jpg", "png": ".png", "webp": ".webp"})
MAX_MEGAPIXELS = 50
GRAIN = 10
"""Half-width of the uniform per-pixel grain, in 8-bit levels."""

THUMB = (Thumbnail(op="thumbnail", size=256),)
TO_JPEG = (Convert(op="convert", format="jpeg", quality=85),)
RECIPES: tuple[tuple[str, float, tuple[ImageOp, ...]], ...] = (
    ("thumb", 0.5, (*THUMB, *TO_JPEG)),
    ("thumb-gray", 0.1, (*THUMB, Grayscale(op="grayscale"), *TO_JPEG)),
    ("thumb-rotate", 0.1, (*THUMB, Rotate(op="rotate", degrees=90), *TO_JPEG)),
    ("crop-thumb", 0.1, (Crop(op="crop", left=200, top=0, width=1080, height=1080),
                         *THUMB, *TO_JPEG)),
    ("thumb-blur", 0.1, (*THUMB, Blur(op="blur", radius=2.0), *TO_JPEG)),
    ("thumb-sharpen", 0.1, (*THUMB, Sharpen(op="sharpen"), *TO_JPEG)),
)
"""Named op lists of the thumbnail workload, with their share of jobs.

Every op fits a 1920x1080 image, the smallest size of the standard photo set."""


def size_for_megapixels(megapixels: float) -> tuple[int, int]:
    """A 4:3 size of about ``megapixels`` (12 -> 4000x3000)."""
    width = round(math.sqrt(megapixels * 1e6 * 4 / 3) / 4) * 4
    return width, width * 3 // 4


def make_photos(directory: Path, count: int,
                sizes: Sequence[tuple[int, int]] | float = ((4000, 3000),),
                formats: Sequence[str] = ("jpeg", "png"), seed: int = 0) -> list[Path]:
    """Write ``count`` photos named ``photo-0001-4000x3000.jpg``...; return their paths.

    Photos walk through every (size, format) pair in order, then start again;
    ``sizes`` may instead be a number of megapixels.
    """
    size_list = [size_for_megapixels(sizes)] if isinstance(sizes, (int, float)) else list(sizes)
    _check(count, size_list, formats, seed)
    directory.mkdir(parents=True, exist_ok=True)
    pairs = itertools.cycle(itertools.product(size_list, formats))
    paths = []
    for number, ((width, height), fmt) in zip(range(1, count + 1), pairs, strict=False):
        path = directory / f"photo-{number:04d}-{width}x{height}{SUFFIXES[fmt]}"
        image = synthetic_photo(width, height, np.random.default_rng([seed, number]))
        options = {"quality": 90} if fmt in ("jpeg", "webp") else {"compress_level": 1}
        image.save(path, format=fmt.upper(), **options)
        paths.append(path)
    return paths


def _check(count: int, sizes: list[tuple[int, int]], formats: Sequence[str], seed: int) -> None:
    if count < 0 or seed < 0:
        raise ConfigurationError(f"photo count and seed must be >= 0, got {count} and {seed}")
    if not sizes or not formats:
        raise ConfigurationError("give at least one size and one format")
    for width, height in sizes:
        if width <= 0 or height <= 0 or width * height > MAX_MEGAPIXELS * 1e6:
            raise ConfigurationError(f"photo size {width}x{height}: expected positive sides, "
                                     f"at most {MAX_MEGAPIXELS} MP")
    unknown = sorted(set(formats) - set(SUFFIXES))
    if unknown:
        raise ConfigurationError(f"unknown photo format(s) {unknown}; known: {', '.join(SUFFIXES)}")


def synthetic_photo(width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """An RGB image with low-frequency colour, edges and grain, drawn from ``rng``."""
    image = _smooth_field(width, height, rng)
    _draw_shapes(image, rng)
    grain = rng.integers(128 - GRAIN, 128 + GRAIN + 1, size=(height, width), dtype=np.uint8)
    grain_image = Image.fromarray(grain, mode="L")
    return ImageChops.add(image, Image.merge("RGB", (grain_image,) * 3), offset=-128)


def _smooth_field(width: int, height: int, rng: np.random.Generator) -> Image.Image:
    cells_x, cells_y = max(2, width // 200), max(2, height // 200)
    top, bottom = rng.uniform(0, 255, size=(2, 3))
    rows = np.linspace(0.0, 1.0, cells_y)[:, None, None]
    gradient = top * (1 - rows) + bottom * rows
    field = 0.65 * gradient + 0.35 * rng.uniform(0, 255, size=(cells_y, cells_x, 3))
    small = Image.fromarray(field.astype(np.uint8), mode="RGB")
    return small.resize((width, height), Image.Resampling.BICUBIC)


def _draw_shapes(image: Image.Image, rng: np.random.Generator) -> None:
    """Ellipses, boxes and lines of up to a sixth of the short side: edges JPEG must keep."""
    draw = ImageDraw.Draw(image)
    width, height = image.size
    reach = max(2, min(width, height) // 6)
    for _ in range(int(rng.integers(12, 30))):
        x, y = int(rng.integers(width)), int(rng.integers(height))
        dx, dy = (int(v) for v in rng.integers(1, reach, size=2))
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        kind = rng.integers(3)
        if kind == 0:
            draw.ellipse((x - dx, y - dy, x + dx, y + dy), fill=colour)
        elif kind == 1:
            draw.rectangle((x - dx, y - dy, x + dx, y + dy), fill=colour)
        else:
            draw.line((x - dx, y - dy, x + dx, y + dy), fill=colour, width=max(1, reach // 20))


def thumbnail_workload(photos: Sequence[str], jobs: int, rate: float, seed: int,
                       service_s: Mapping[tuple[str, str], float]) -> list[dict]:
    """Trace lines (our JSON-lines format) of thumbnail jobs arriving at ``rate`` per second.

    Arrivals are Poisson; each job takes a random photo and a recipe from
    :data:`RECIPES`; ``service_s`` maps (photo, recipe name) to a measured time.
    """
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, size=jobs))
    shares = np.array([share for _, share, _ in RECIPES])
    lines = []
    for number, at in enumerate(arrivals, start=1):
        photo = photos[int(rng.integers(len(photos)))]
        name, _, ops = RECIPES[int(rng.choice(len(RECIPES), p=shares / shares.sum()))]
        job_id = f"thumb-{number:04d}"
        lines.append({"id": job_id, "at": round(float(at), 3),
                      "service_s": round(service_s[(photo, name)], 4), "user": "demo",
                      "input": photo, "output": f"thumbs/{job_id}.jpg",
                      "ops": [op.model_dump() for op in ops]})
    return lines


def measure_service_times(processor: ImageProcessor, photos: Sequence[str],
                          repeats: int = 5) -> dict[tuple[str, str], float]:
    """Median seconds of each recipe on each photo, timed with ``processor`` on this machine.

    Every run writes as one job, ``measure``, so that each photo may rewrite the
    recipe's outputs of the previous one.
    """
    medians = {}
    for photo, (name, _, ops) in itertools.product(photos, RECIPES):
        times = []
        for attempt in range(repeats):
            started = time.perf_counter()
            processor.process(ops, photo, f"measure/{name}-{attempt}.jpg", "measure")
            times.append(time.perf_counter() - started)
        medians[(photo, name)] = statistics.median(times)
    return medians
