"""Thumbnails per second: our ImageProcessor against libvips' vipsthumbnail.

Both make 256-pixel JPEG thumbnails (quality 85, metadata dropped) of the same
synthetic 12-megapixel JPEGs in the same run, so the ratio compares the two on
this machine rather than against a figure from elsewhere. The goal is to be
within 1.5x of vipsthumbnail. vipsthumbnail runs once over all the files per
round (its start-up is shared by the batch), with libvips' own thread pool and
with one thread; a third line runs one vipsthumbnail process per file, as a
worker shelling out would. Needs Debian's libvips-tools
(``apt-get install -y libvips-tools``).

Run: ``.venv/bin/python benchmarks/bench_images.py [--count 12] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import PIL
from machine import cpu_model
from PIL import features

from imgproc.adapters.images import ImageProcessor
from imgproc.adapters.photos import make_photos
from imgproc.core.image_ops import Convert, Thumbnail

OPS = (Thumbnail(op="thumbnail", size=256), Convert(op="convert", format="jpeg", quality=85))
GOAL = 1.5




def vips_version() -> str:
    done = subprocess.run(["vipsthumbnail", "--vips-version"], capture_output=True, text=True)
    return done.stdout.strip() or done.stderr.strip()


def rate(run: Callable[[], None], files: int, rounds: int) -> float:
    """Thumbnails per second: best of ``rounds`` timed passes after one warm-up pass."""
    run()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return files / best


def ours(root: Path, names: list[str]) -> Callable[[], None]:
    processor = ImageProcessor.local(root, root / "ours")

    def run() -> None:
        for name in names:
            processor.process(OPS, f"photos/{name}", f"thumbs/{name}", "bench")
    return run


def vips_batch(paths: list[Path], out: Path, threads: int | None) -> Callable[[], None]:
    env = dict(os.environ)
    if threads is not None:
        env["VIPS_CONCURRENCY"] = str(threads)
    command = ["vipsthumbnail", "-s", "256", "-o", f"{out}/%s.jpg[Q=85,strip]", *map(str, paths)]
    return lambda: subprocess.run(command, check=True, env=env)


def vips_each(paths: list[Path], out: Path) -> Callable[[], None]:
    def run() -> None:
        for path in paths:
            subprocess.run(["vipsthumbnail", "-s", "256", "-o", f"{out}/%s.jpg[Q=85,strip]",
                            str(path)], check=True)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=12, help="number of 12 MP JPEGs")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes (best is kept)")
    args = parser.parse_args()
    if shutil.which("vipsthumbnail") is None:
        print("vipsthumbnail not found: apt-get install -y libvips-tools", file=sys.stderr)
        return 2
    print(f"date     {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"machine  nproc={os.cpu_count()}  cpu={cpu_model()}  python={platform.python_version()}")
    print(f"pillow   {PIL.__version__} (libjpeg-turbo {features.version('libjpeg_turbo')})"
          f"  vips {vips_version()}")
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        root = Path(tmp)
        paths = make_photos(root / "photos", args.count, [(4000, 3000)], ("jpeg",), seed=7)
        (root / "vips").mkdir()
        print(f"files    {len(paths)} JPEGs of 4000x3000 (quality 90), "
              f"{sum(p.stat().st_size for p in paths) / len(paths) / 1e6:.1f} MB each; "
              f"thumbnail 256 px, JPEG quality 85")
        results = {
            "imgproc ImageProcessor (Pillow, 1 thread)": rate(
                ours(root, [p.name for p in paths]), len(paths), args.rounds),
            "vipsthumbnail, one process, default threads": rate(
                vips_batch(paths, root / "vips", None), len(paths), args.rounds),
            "vipsthumbnail, one process, VIPS_CONCURRENCY=1": rate(
                vips_batch(paths, root / "vips", 1), len(paths), args.rounds),
            "vipsthumbnail, one process per file": rate(
                vips_each(paths, root / "vips"), len(paths), args.rounds),
        }
    mine = next(iter(results.values()))
    for name, value in results.items():
        print(f"{name:<48} {value:7.1f} thumbnails/s  ({1000 / value:6.1f} ms each)")
    best_vips = max(list(results.values())[1:])
    ratio = best_vips / mine
    verdict = "within" if ratio <= GOAL else "OUTSIDE"
    print(f"ratio    fastest vipsthumbnail / ours = {ratio:.2f}x ({verdict} the {GOAL}x goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
