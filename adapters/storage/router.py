"""Which store holds a job's input or output: the one place that reads a job's names.

:class:`Storage` resolves a name (:func:`~imgproc.core.storage.locate`) against its role's
root and the configured places, and hands back the store and key: a local directory for a
relative path under a local root, a bucket for an ``s3://`` URL or a path under an S3 root.
Buckets are opened on first use, so a worker that only ever sees local paths never needs
the object store's credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgproc.adapters.storage.local import LocalStore
from imgproc.adapters.storage.memory import MemoryStore
from imgproc.adapters.storage.settings import StorageSettings
from imgproc.core.errors import ConfigurationError
from imgproc.core.ports import ObjectStore
from imgproc.core.storage import Location, LocationError, Root, locate, parse_places

OpenBucket = Callable[[str], ObjectStore]


@dataclass(frozen=True, slots=True)
class Stored:
    """A job's input or output: its store, its key there, and its URL as results give it."""

    store: ObjectStore
    key: str
    url: str


class Storage:
    """Resolves jobs' inputs and outputs to stores; see the module's docstring."""

    def __init__(self, input_root: str | Path, output_root: str | Path,
                 places: Sequence[str] = (), open_bucket: OpenBucket | None = None,
                 close: Callable[[], None] | None = None) -> None:
        self.roots = {"input": Root(str(input_root)), "output": Root(str(output_root))}
        for role, root in self.roots.items():
            try:
                root.place  # noqa: B018 - parsed now, so that a bad root fails at start
            except LocationError as exc:
                raise ConfigurationError(f"worker.{role}_root: {exc}") from exc
        self.places: tuple[Location, ...] = parse_places(places)
        self._open_bucket = open_bucket or _no_object_store
        self._close = close
        self._buckets: dict[str, ObjectStore] = {}
        self._locals: dict[str, LocalStore] = {}
        self._lock = threading.Lock()

    def input(self, name: str) -> Stored:
        return self._resolve(name, "input")

    def output(self, name: str) -> Stored:
        return self._resolve(name, "output")

    def close(self) -> None:
        if self._close is not None:
            self._close()

    def _resolve(self, name: str, role: str) -> Stored:
        root = self.roots[role]
        location = locate(name, role, root, self.places)
        if location.bucket is None:
            return Stored(self._local(root.text), location.key, location.key)
        return Stored(self._bucket(location.bucket), location.key, location.url)

    def _local(self, root: str) -> LocalStore:
        with self._lock:
            if root not in self._locals:
                self._locals[root] = LocalStore(Path(root))
            return self._locals[root]

    def _bucket(self, bucket: str) -> ObjectStore:
        with self._lock:
            if bucket not in self._buckets:
                self._buckets[bucket] = self._open_bucket(bucket)
            return self._buckets[bucket]


def _no_object_store(bucket: str) -> ObjectStore:
    raise ConfigurationError(f"s3://{bucket}: no object store is configured here")


def s3_storage(input_root: str | Path, output_root: str | Path,
               settings: StorageSettings) -> Storage:
    """Local roots and S3 buckets, one boto3 client for all (made at the first bucket)."""
    client: list[Any] = []

    def open_bucket(bucket: str) -> ObjectStore:
        # boto3 is a tenth of a second of a worker's start: imported for the first bucket
        from imgproc.adapters.storage.s3 import S3Store, s3_client

        if not client:
            client.append(s3_client(settings))
        return S3Store(client[0], bucket, settings.retry_s)

    def close() -> None:
        if client:
            client[0].close()

    return Storage(input_root, output_root, settings.places, open_bucket, close)


def memory_storage(input_root: str | Path, output_root: str | Path,
                   places: Sequence[str] = ("imgproc",)) -> tuple[Storage, dict[str, MemoryStore]]:
    """Local roots and in-memory buckets; the buckets, made on first use, are returned too."""
    buckets: dict[str, MemoryStore] = {}

    def open_bucket(bucket: str) -> ObjectStore:
        return buckets.setdefault(bucket, MemoryStore(f"s3://{bucket}/"))

    return Storage(input_root, output_root, places, open_bucket), buckets
