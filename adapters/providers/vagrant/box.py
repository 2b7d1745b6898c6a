"""The worker box (built and cached by ``scripts/build-box.sh``) and the host set-up VMs need
(``scripts/ensure-vagrant.sh``); both scripts do the work, this module calls them."""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from imgproc.adapters.providers.vagrant.command import interrupt_child_group, tail
from imgproc.core.errors import ProviderError

log = logging.getLogger(__name__)


def source_root() -> Path:
    """The repository this module runs from (an editable install), holding vagrant/ and puppet/."""
    return Path(__file__).resolve().parents[3]


def script(name: str, source_dir: Path | None = None) -> Path:
    """One of the repository's scripts (``build-box.sh``, ``ensure-vagrant.sh``)."""
    return (source_dir or source_root()) / "scripts" / name


def wheels_dir(state_dir: Path) -> Path:
    """Where a deployer with this state directory keeps the wheels baked into its box."""
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


def build_box(wheels: Path, source_dir: Path | None = None,
              timeout_s: float = 1800.0) -> BoxInfo:
    """Build and register the worker box for these wheels and the current Puppet code,
    unless it is already (``scripts/build-box.sh``: cached by their content). The builder
    runs in its own process group: cut short, all of it is stopped, and its exit trap
    unmounts what it had bound into the image."""
    command = [str(script("build-box.sh", source_dir)), "--wheels", str(wheels)]
    try:
        builder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
    except OSError as exc:
        raise ProviderError(f"cannot build the box: {exc}") from exc
    try:
        out, err = builder.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        interrupt_child_group(builder)
        builder.communicate()
        raise ProviderError(f"cannot build the box: it took more than {timeout_s:.0f} s") from None
    if builder.returncode != 0:
        raise ProviderError(f"cannot build the box: {tail(err)}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise ProviderError(f"the box builder said nothing usable: {tail(out)}")
    return BoxInfo.from_json(lines[-1])


def ensure_host(source_dir: Path | None = None, timeout_s: float = 1800.0) -> None:
    """Install and start what VMs need on this host (``scripts/ensure-vagrant.sh``)."""
    done = subprocess.run([str(script("ensure-vagrant.sh", source_dir))], capture_output=True,
                          text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise ProviderError(f"this host cannot run VMs: {tail(done.stderr)}")
