"""What every object store does: whole objects by key, a size limit checked before the
download, outputs owned by the job that first wrote them, and errors that name the object."""

from __future__ import annotations

import re
import threading

import pytest

from imgproc.core.storage import ObjectMissing, ObjectTaken, ObjectTooLarge, StorageError

PICTURE = bytes(range(256)) * 40


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
