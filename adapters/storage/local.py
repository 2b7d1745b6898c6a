"""Objects as files under a local directory: the default store, and today's traces' roots.

A key is a path relative to the root. Paths that lead outside it (through ``..`` or a
symbolic link) are refused, writes appear whole or not at all (a temporary file, then
``os.replace``), and an output belongs to the job that first wrote it: a claim under
:data:`CLAIMS_DIR`, written whole and linked into place, so that two jobs racing for one
output cannot both win. Written files are atomic on replace, not fsynced: a power cut may
lose one, never half-write it. Errors name the key, never the root.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from imgproc.core.storage import ObjectMissing, ObjectTaken, ObjectTooLarge, StorageError

CLAIMS_DIR = ".imgproc-claims"
"""Under the root: one file per written object, holding the id of the job that wrote it."""


class LocalStore:
    """An :class:`~imgproc.core.ports.ObjectStore` on the files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.claims = self.root / CLAIMS_DIR

    def read(self, key: str, max_bytes: int) -> bytes:
        path = self._file(key)
        try:
            with path.open("rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                if size > max_bytes:
                    raise ObjectTooLarge(key, size, max_bytes)
                data = stream.read(max_bytes + 1)  # the file may have grown since
        except OSError as exc:
            raise StorageError(key, f"cannot be read: {reason(exc)}") from exc
        if len(data) > max_bytes:
            raise ObjectTooLarge(key, len(data), max_bytes)
        return data

    def write(self, key: str, data: bytes, owner: str) -> None:
        target = self._path(key)
        if target.is_relative_to(self.claims):
            raise StorageError(key, "reserved for imgproc")
        claim_path = self.claims / hashlib.sha256(
            target.relative_to(self.root).as_posix().encode()).hexdigest()
        try:
            found = claim(claim_path, owner)
        except OSError as exc:
            raise StorageError(key, f"cannot be written: {reason(exc)}") from exc
        if found is not None and found != owner:
            raise ObjectTaken(key, found)
        try:
            write_atomically(target, data)
        except OSError as exc:
            if found is None:
                claim_path.unlink(missing_ok=True)
            raise StorageError(key, f"cannot be written: {reason(exc)}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._file(key).stat().st_size
        except OSError as exc:
            raise StorageError(key, f"cannot be read: {reason(exc)}") from exc

    def close(self) -> None:
        """Nothing to release."""

    def _file(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            if path.exists():
                raise StorageError(key, "is not a regular file")
            raise ObjectMissing(key, "file not found")
        return path

    def _path(self, key: str) -> Path:
        """``root / key``, refusing what leads outside the root (``..``, symbolic links)."""
        try:
            resolved = (self.root / key).resolve()
        except RuntimeError as exc:  # Python 3.11's symlink loop, whose text holds the path
            raise StorageError(key, "cannot be resolved: a symbolic link loops") from exc
        except (OSError, ValueError) as exc:
            raise StorageError(key, f"cannot be resolved: {reason(exc)}") from exc
        if resolved == self.root or not resolved.is_relative_to(self.root):
            raise StorageError(key, "leads outside its root")
        return resolved


def claim(path: Path, owner: str) -> str | None:
    """Record ``owner`` in ``path`` unless one is: None if this call made the claim, else
    the owner found there.

    The claim is written whole in a temporary file, then hard-linked into place: the link
    fails if the claim exists (as an ``O_EXCL`` create would), and a worker killed half-way
    never leaves an empty claim that its redelivered job could not match.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(owner)
        os.link(temp, path)
        return None
    except FileExistsError:
        return path.read_text(encoding="utf-8")
    finally:
        os.unlink(temp)


def write_atomically(target: Path, data: bytes) -> None:
    """Write into a temporary file beside ``target``, then rename it into place."""
    temp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(temp, target)
        temp = None
    finally:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)


def reason(exc: BaseException) -> str:
    """What went wrong, without the absolute path a system error's text carries."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
