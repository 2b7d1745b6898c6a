"""Machine ids as providers receive them: checked before one names a file or a VM."""

from __future__ import annotations

from imgproc.core.errors import ProviderError
from imgproc.core.machines import is_machine_id


def checked_id(machine_id: str) -> str:
    """``machine_id``, if it can name a file; raises ProviderError otherwise."""
    if not is_machine_id(machine_id):
        raise ProviderError(f"machine id {machine_id!r} could name a path or an option "
                            f"(it must not hold '/' or control characters, be '.' or '..', "
                            f"or start with '-')")
    return machine_id
