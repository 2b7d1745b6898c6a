"""What every object store does (a local directory, memory, and S3 on the real SeaweedFS
that scripts/ensure-services.sh starts): whole objects by key, a size limit checked before
the download, outputs owned by the job that first wrote them, errors that name the object."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgproc.adapters.storage.local import LocalStore
from imgproc.adapters.storage.memory import MemoryStore
from imgproc.adapters.storage.s3 import S3Store, s3_client
from imgproc.adapters.storage.settings import StorageSettings
from imgproc.core.ports import ObjectStore
from imgproc.core.storage import ObjectMissing, ObjectTaken, ObjectTooLarge, StorageError

PICTURE = bytes(range(256)) * 40


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



def test_what_is_written_is_read_back_whole_with_its_size(object_store):
    object_store.write("a/b/picture.jpg", PICTURE, "job-1")
    assert object_store.read("a/b/picture.jpg", max_bytes=len(PICTURE)) == PICTURE
    assert object_store.size("a/b/picture.jpg") == len(PICTURE)
    assert object_store.exists("a/b/picture.jpg")
    assert not object_store.exists("a/b/other.jpg")


def test_a_missing_object_is_named_when_read_or_sized(object_store):
    with pytest.raises(ObjectMissing, match=re.escape("nowhere.jpg")):
        object_store.read("in/nowhere.jpg", max_bytes=100)
    with pytest.raises(ObjectMissing, match=re.escape("nowhere.jpg")):
        object_store.size("in/nowhere.jpg")


def test_an_object_over_the_limit_is_refused_naming_its_size_and_the_limit(object_store):
    object_store.write("big.jpg", PICTURE, "job-1")
    with pytest.raises(ObjectTooLarge, match=re.escape("big.jpg")) as caught:
        object_store.read("big.jpg", max_bytes=len(PICTURE) - 1)
    assert (caught.value.size, caught.value.limit) == (len(PICTURE), len(PICTURE) - 1)
    assert f"{len(PICTURE):,} bytes" in str(caught.value)


def test_the_same_owner_may_write_again_and_replaces_the_object(object_store):
    object_store.write("out.jpg", b"first", "job-1")
    object_store.write("out.jpg", b"second", "job-1")
    assert object_store.read("out.jpg", max_bytes=100) == b"second"


def test_another_owner_is_refused_naming_the_first_and_changes_nothing(object_store):
    object_store.write("out.jpg", b"first", "job-1")
    with pytest.raises(ObjectTaken, match=re.escape("out.jpg")) as caught:
        object_store.write("out.jpg", b"second", "job-2")
    assert caught.value.owner == "job-1"
    assert object_store.read("out.jpg", max_bytes=100) == b"first"


def test_of_owners_racing_for_one_key_exactly_one_writes_it(object_store):
    outcomes: dict[str, str] = {}
    start = threading.Barrier(6)

    def write(owner: str) -> None:
        start.wait()
        try:
            object_store.write("raced.jpg", owner.encode(), owner)
            outcomes[owner] = "wrote"
        except ObjectTaken as exc:
            outcomes[owner] = f"taken by {exc.owner}"

    threads = [threading.Thread(target=write, args=(f"job-{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [owner for owner, outcome in outcomes.items() if outcome == "wrote"]
    assert len(winners) == 1
    assert object_store.read("raced.jpg", max_bytes=100) == winners[0].encode()
    assert all(o == f"taken by {winners[0]}" for w, o in outcomes.items() if w != winners[0])


def test_an_empty_object_is_an_object(object_store):
    object_store.write("empty.txt", b"", "job-1")
    assert object_store.read("empty.txt", max_bytes=0) == b""
    assert object_store.size("empty.txt") == 0


def test_errors_are_the_projects_own(object_store):
    with pytest.raises(StorageError):
        object_store.read("none", max_bytes=1)


def test_an_owner_of_any_text_is_kept_and_named(object_store):
    object_store.write("u.jpg", b"first", "jöb 1/\n")
    object_store.write("u.jpg", b"again", "jöb 1/\n")
    with pytest.raises(ObjectTaken) as caught:
        object_store.write("u.jpg", b"second", "job-2")
    assert caught.value.owner == "jöb 1/\n"
