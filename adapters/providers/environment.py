"""Settings handed to a worker on another process or machine, as ``IMGPROC_*`` variables.

The one encoding of settings into an environment: a top-level setting per variable,
sections as JSON, as ``imgproc.settings`` reads them back. The local provider passes
it to its processes; the Vagrant provider writes it into the guests' EnvironmentFile.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any


def imgproc_variables(settings: Mapping[str, Any]) -> dict[str, str]:
    """``IMGPROC_<NAME>`` for every setting that has a value (sections as JSON)."""
    return {f"IMGPROC_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
            for name, value in settings.items() if value is not None}


def environment_with(base: Mapping[str, str], settings: Mapping[str, Any]) -> dict[str, str]:
    """``base`` (the parent's environment) without its own ``IMGPROC_*``, plus ``settings``:
    the child runs with exactly these settings."""
    env = {k: v for k, v in base.items() if not k.startswith("IMGPROC_")}
    env.update(imgproc_variables(settings))
    return env


def environment_file(settings: Mapping[str, Any], comment: str) -> str:
    """The same variables as lines of a systemd EnvironmentFile, double-quoted and escaped."""
    lines = [f"# {comment}"]
    for name, value in imgproc_variables(settings).items():
        quoted = re.sub(r'([\\"`$])', r"\\\1", value)
        lines.append(f'{name}="{quoted}"')
    return "\n".join(lines) + "\n"
