"""Wheels of imgproc and its dependencies, which the box builder bakes into the worker box
(installed there with no network). Rebuilt only when the sources change (a hash of them is
kept beside the wheels as ``.source-hash``, and is part of the box's cache key)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from imgproc.adapters.providers.vagrant.command import tail
from imgproc.core.errors import ProviderError

log = logging.getLogger(__name__)

BUILD_FILES = ("pyproject.toml", "README.md")
NOT_IN_WHEEL = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def package_dirs(source_dir: Path) -> list[Path]:
    """The top-level folders that are Python packages (core/, adapters/, app/, tui/)."""
    return sorted(p for p in source_dir.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def _in_wheel(path: Path) -> bool:
    return path.is_file() and not any(part == "__pycache__" or part.endswith(".egg-info")
                                      for part in path.parts) and path.suffix != ".pyc"


def source_hash(source_dir: Path) -> str:
    """A hash of what goes into imgproc's wheel: its build file and every file of its
    packages (Python sources and package data: the box bakes the wheel in, so a changed
    profile or stylesheet must rebuild it too)."""
    digest = hashlib.sha256()
    files = [source_dir / "pyproject.toml"]
    for top in package_dirs(source_dir):
        files.extend(sorted(p for p in top.rglob("*") if _in_wheel(p)))
    for path in files:
        digest.update(str(path.relative_to(source_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def wheels_are_current(source_dir: Path, wheels_dir: Path) -> bool:
    """Whether ``wheels_dir`` holds wheels built from the sources as they are now."""
    marker = wheels_dir / ".source-hash"
    return marker.is_file() and marker.read_text().strip() == source_hash(source_dir)


def build_wheels(source_dir: Path, wheels_dir: Path, python: str = sys.executable,
                 timeout_s: float = 900.0,
                 run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                 ) -> Path:
    """Wheels of imgproc and every dependency in ``wheels_dir``, rebuilt only when the sources
    changed. The build runs on a copy of the sources, so nothing is written into the tree."""
    if wheels_are_current(source_dir, wheels_dir):
        return wheels_dir
    wanted = source_hash(source_dir)
    started = time.monotonic()
    wheels_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="imgproc-wheels-", dir=wheels_dir.parent) as tmp:
        copy = _copy_sources(source_dir, Path(tmp) / "src")
        out = Path(tmp) / "wheels"
        try:
            done = run([python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                        "-w", str(out), str(copy)],
                       capture_output=True, text=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProviderError(f"cannot build imgproc's wheels: {exc}") from exc
        if done.returncode != 0:
            raise ProviderError(f"cannot build imgproc's wheels: {tail(done.stderr)}")
        (out / ".source-hash").write_text(wanted + "\n")
        if wheels_dir.exists():
            shutil.rmtree(wheels_dir)
        os.replace(out, wheels_dir)
    log.info("built %d wheels in %.0f s", len(list(wheels_dir.glob("*.whl"))),
             time.monotonic() - started)
    return wheels_dir


def _copy_sources(source_dir: Path, copy: Path) -> Path:
    """What building the wheel reads: the build files and the package folders."""
    copy.mkdir(parents=True)
    for name in BUILD_FILES:
        if (source_dir / name).is_file():
            shutil.copy2(source_dir / name, copy / name)
    for package in package_dirs(source_dir):
        shutil.copytree(package, copy / package.name, ignore=NOT_IN_WHEEL)
    return copy
