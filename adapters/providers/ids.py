"""Machine ids as providers receive them: checked before one names a file or a VM."""

from __future__ import annotations

import re

from imgproc.core.errors import ProviderError
from imgproc.core.machines import MACHINE_ID_PATTERN

_MACHINE_ID = re.compile(MACHINE_ID_PATTERN)


def checked_id(machine_id: str) -> str:
    """``machine_id``, if it can name a file; raises ProviderError otherwise."""
    if not _MACHINE_ID.match(machine_id):
        raise ProviderError(f"machine id {machine_id!r} is not a machine id (letters, digits, "
                            f"'_.-', starting with a letter or digit)")
    return machine_id
