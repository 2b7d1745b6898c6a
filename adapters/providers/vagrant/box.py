"""The worker box (built and cached by ``scripts/build-box.sh``) and the host set-up VMs need
(``scripts/ensure-vagrant.sh``); both scripts do the work, this module calls them."""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from imgproc.adapters.providers.vagrant.command import tail
from imgproc.core.errors import ProviderError

log = logging.getLogger(__name__)


def source_root() -> Path:
    """The repository this module runs from (an editable install), holding vagrant/ and puppet/."""
    return Path(__file__).resolve().parents[3]


def script(name: str, source_dir: Path | None = None) -> Path:
    """One of the repository's scripts (``build-box.sh``, ``ensure-vagrant.sh``)."""
    return (source_dir or source_root()) / "scripts" / name


def wheels_dir(state_dir: Path) -> Path:
    """Where a deployer with this state directory keeps the wheels its guests install."""
    return Path(state_dir) / "vagrant" / "wheels"


@dataclass(frozen=True)
class BoxInfo:
    """A registered box and what booting it takes (direct kernel boot)."""

    box: str
    kernel: str | None = None
    initrd: str | None = None
    cmd_line: str | None = None

    @classmethod
    def from_json(cls, text: str) -> BoxInfo:
        data = json.loads(text)
        return cls(data["box"], data.get("kernel"), data.get("initrd"), data.get("cmd_line"))


def build_box(source_dir: Path | None = None, wheels: Path | None = None,
              timeout_s: float = 1800.0) -> BoxInfo:
    """Build and register the worker box unless it is already (``scripts/build-box.sh``: cached).
    With ``wheels``, imgproc's dependencies come installed in the box's /opt/imgproc/venv."""
    command = [str(script("build-box.sh", source_dir)),
               *(["--wheels", str(wheels)] if wheels else [])]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProviderError(f"cannot build the box: {exc}") from exc
    if done.returncode != 0:
        raise ProviderError(f"cannot build the box: {tail(done.stderr)}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise ProviderError(f"the box builder said nothing usable: {tail(done.stdout)}")
    return BoxInfo.from_json(lines[-1])


def ensure_host(source_dir: Path | None = None, timeout_s: float = 1800.0) -> None:
    """Install and start what VMs need on this host (``scripts/ensure-vagrant.sh``)."""
    done = subprocess.run([str(script("ensure-vagrant.sh", source_dir))], capture_output=True,
                          text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise ProviderError(f"this host cannot run VMs: {tail(done.stderr)}")
