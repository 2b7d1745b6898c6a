"""Secrets read from files, as the services' own tools and container platforms hand them
over: one secret per file, readable by its owner only (a file that its group or others
may read is refused, as ssh refuses such a key)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from imgproc.core.errors import ConfigurationError


def read_secret(path: Path, setting: str) -> str:
    """The secret in ``path`` (one line, surrounding blanks dropped), refusing a file that
    its group or others may read."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"{setting} {path}: mode {stat.S_IMODE(mode):04o} lets others read the secret; "
                f"run: chmod 600 {path}")
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise ConfigurationError(f"{setting} {path}: not found (set it, or give the secret "
                                 "itself)") from exc
    except OSError as exc:
        raise ConfigurationError(f"{setting} {path}: cannot be read: {exc.strerror}") from exc
    if not secret:
        raise ConfigurationError(f"{setting} {path}: the file is empty")
    return secret


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner only (it holds the fleet's secrets), from the
    first byte: the file is made 0600, never chmod-ed after."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)
