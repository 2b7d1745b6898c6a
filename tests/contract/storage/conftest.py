"""One storage contract, three stores: a local directory, memory, and S3 on the real
SeaweedFS that scripts/ensure-services.sh starts (its secret in the file it writes)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgproc.adapters.storage.local import LocalStore
from imgproc.adapters.storage.memory import MemoryStore
from imgproc.adapters.storage.s3 import S3Store, s3_client
from imgproc.adapters.storage.settings import StorageSettings
from imgproc.core.ports import ObjectStore


@pytest.fixture
def s3_prefix() -> str:
    return f"tests/{uuid.uuid4().hex[:12]}/"


@pytest.fixture(params=["local", "memory", "s3"])
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    """The store under test, with every key the test uses under a prefix of its own."""
    if request.param == "local":
        yield LocalStore(tmp_path / "root")
    elif request.param == "memory":
        yield MemoryStore("s3://memory/")
    else:
        settings: StorageSettings = request.getfixturevalue("s3_settings")
        prefix: str = request.getfixturevalue("s3_prefix")
        client = s3_client(settings)
        yield PrefixedStore(S3Store(client, settings.bucket, settings.retry_s), prefix)
        delete_prefix(client, settings.bucket, prefix)
        client.close()


class PrefixedStore:
    """A store's keys under ``prefix``, so that tests sharing a bucket never meet."""

    def __init__(self, store: S3Store, prefix: str) -> None:
        self.inner = store
        self.prefix = prefix

    def read(self, key: str, max_bytes: int) -> bytes:
        return self.inner.read(self.prefix + key, max_bytes)

    def write(self, key: str, data: bytes, owner: str) -> None:
        self.inner.write(self.prefix + key, data, owner)

    def exists(self, key: str) -> bool:
        return self.inner.exists(self.prefix + key)

    def size(self, key: str) -> int:
        return self.inner.size(self.prefix + key)

    def close(self) -> None:
        self.inner.close()


def delete_prefix(client, bucket: str, prefix: str) -> None:
    """Remove every object under ``prefix`` (what a test wrote)."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
