"""Objects in a dictionary: the store of the in-memory system and of fast tests."""

from __future__ import annotations

import threading

from imgproc.core.storage import ObjectMissing, ObjectTaken, ObjectTooLarge


class MemoryStore:
    """An :class:`~imgproc.core.ports.ObjectStore` in memory; ``name`` prefixes its errors'
    object names, as a bucket's URL would."""

    def __init__(self, name: str = "memory://") -> None:
        self.name = name
        self._objects: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def read(self, key: str, max_bytes: int) -> bytes:
        data = self._get(key)[0]
        if len(data) > max_bytes:
            raise ObjectTooLarge(self.name + key, len(data), max_bytes)
        return data

    def write(self, key: str, data: bytes, owner: str) -> None:
        with self._lock:
            found = self._objects.get(key)
            if found is not None and found[1] != owner:
                raise ObjectTaken(self.name + key, found[1])
            self._objects[key] = (bytes(data), owner)

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self._objects

    def size(self, key: str) -> int:
        return len(self._get(key)[0])

    def keys(self) -> list[str]:
        """Every key, sorted: what a test checks after a run."""
        with self._lock:
            return sorted(self._objects)

    def close(self) -> None:
        """Nothing to release."""

    def _get(self, key: str) -> tuple[bytes, str]:
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise ObjectMissing(self.name + key, "object not found")
        return found
