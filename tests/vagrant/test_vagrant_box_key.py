"""The box builder. Its cache key, with the real builder: `scripts/build-box.sh --wheels DIR --name`
names the box for its inputs without building it. A change to the Puppet code, to the
builder (the guest's set-up) or to what goes into imgproc's wheel gives another name, so
the provider builds that box rather than use a stale one; nothing else changes it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the box builder runs as root")


@pytest.fixture
def sources(tmp_path):
    """A copy of the builder and the Puppet tree, and a directory of wheels."""
    src = tmp_path / "src"
    (src / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "build-box.sh", src / "scripts" / "build-box.sh")
    shutil.copytree(ROOT / "puppet", src / "puppet")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in ("imgproc-0.1.0-py3-none-any.whl", "numpy-2.3.5-cp311-cp311-linux_x86_64.whl"):
        (wheels / name).write_bytes(b"PK")
    (wheels / ".source-hash").write_text("0123456789abcdef\n")
    return src, wheels


def _name(src: Path, wheels: Path) -> str:
    done = subprocess.run([str(src / "scripts" / "build-box.sh"), "--wheels", str(wheels),
                           "--name"], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "IMGPROC_BOX_DIR": str(src.parent / "box")})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_same_inputs_name_the_same_box(sources):
    src, wheels = sources
    first = _name(src, wheels)
    assert first.startswith("imgproc-bookworm-")
    (wheels / "notes.txt").write_text("not a wheel")
    assert _name(src, wheels) == first
    assert not (src.parent / "box").exists()  # named, not built


def test_a_change_to_the_puppet_code_names_another_box(sources):
    src, wheels = sources
    before = _name(src, wheels)
    unit = src / "puppet" / "modules" / "imgproc" / "templates" / "imgproc.service.epp"
    unit.write_text(unit.read_text().replace("RestartSec=2", "RestartSec=3"))
    assert _name(src, wheels) != before


def test_a_change_to_the_guests_set_up_names_another_box(sources):
    src, wheels = sources
    before = _name(src, wheels)
    builder = src / "scripts" / "build-box.sh"
    builder.write_text(builder.read_text().replace("man-db.timer", "man-db.timer cron.service"))
    assert _name(src, wheels) != before


def test_a_change_to_imgproc_or_its_dependencies_names_another_box(sources):
    src, wheels = sources
    before = _name(src, wheels)
    (wheels / ".source-hash").write_text("fedcba9876543210\n")
    changed_source = _name(src, wheels)
    assert changed_source != before
    (wheels / "pillow-12.0.0-cp311-cp311-linux_x86_64.whl").write_bytes(b"PK")
    assert _name(src, wheels) not in (before, changed_source)


def test_without_imgproc_wheel_the_builder_refuses(sources):
    src, wheels = sources
    (wheels / "imgproc-0.1.0-py3-none-any.whl").unlink()
    done = subprocess.run([str(src / "scripts" / "build-box.sh"), "--wheels", str(wheels),
                           "--name"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0 and "no imgproc wheel" in done.stderr


def test_a_builder_that_runs_too_long_is_stopped_with_its_children_and_cleans_up(tmp_path):
    """The provider's build_box: the builder's whole process group is stopped, and its
    exit trap (which unmounts what it bound into the image) runs."""
    from imgproc.adapters.providers.vagrant.box import build_box
    from imgproc.core.errors import ProviderError

    (tmp_path / "scripts").mkdir()
    builder = tmp_path / "scripts" / "build-box.sh"
    # A step in the foreground (as debootstrap or Puppet), and a child that ignores SIGINT
    # (a background job of a script does).
    builder.write_text(f"#!/usr/bin/env bash\ntrap 'echo cleaned >{tmp_path}/trap' EXIT\n"
                       f"sleep 300 & echo $! >{tmp_path}/child\nsleep 300\n")
    builder.chmod(0o755)
    with pytest.raises(ProviderError, match="took more than 2 s"):
        build_box(tmp_path / "wheels", source_dir=tmp_path, timeout_s=2)
    assert (tmp_path / "trap").read_text() == "cleaned\n"
    child = int((tmp_path / "child").read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
