"""Profile files: what ``imgproc calibrate`` measured, as JSON, read back for the simulator.

``--profile`` takes a file's path, or the name of a profile shipped with imgproc
(``local``: the local provider on a 2-core machine, ``imgproc/profiles/local.json``).
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from imgproc.core.errors import ConfigurationError
from imgproc.core.sim.costs import Profile
from imgproc.core.validation import describe_errors

SHIPPED = "imgproc.profiles"


def shipped_profiles() -> list[str]:
    """The names of the profiles shipped with imgproc."""
    folder = resources.files(SHIPPED)
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir()
                  if p.name.endswith(".json"))


def read_profile(ref: str) -> Profile:
    """The profile in file ``ref``, or shipped under the name ``ref``."""
    if ref.endswith(".json") or os.sep in ref or Path(ref).is_file():
        path = Path(ref)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigurationError(f"profile {path}: cannot be read ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise ConfigurationError(f"profile {path}: not text (byte {exc.start} is not "
                                     f"UTF-8): a profile is JSON") from exc
        return parse_profile(text, str(path))
    if ref not in shipped_profiles():
        raise ConfigurationError(f"profile {ref!r}: no such file, nor a shipped profile "
                                 f"(shipped: {', '.join(shipped_profiles())})")
    return parse_profile(resources.files(SHIPPED).joinpath(f"{ref}.json").read_text(),
                         f"shipped profile {ref}")


def parse_profile(text: str, where: str) -> Profile:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"profile {where}: line {exc.lineno}: not JSON "
                                 f"({exc.msg})") from exc
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(f"profile {where}: {describe_errors(exc, '<profile>')}") \
            from exc


def write_profile(path: Path, profile: Profile) -> None:
    """Write ``profile`` to ``path``, whole or not at all."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise ConfigurationError(f"profile {path}: cannot be written ({exc.strerror})") \
            from exc
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(profile.model_dump_json(indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigurationError(f"profile {path}: cannot be written ({exc.strerror})") \
            from exc
