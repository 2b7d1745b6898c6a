"""A job's input or output stays where it may: under its root, or in a configured place.

Each refusal is tried as a user attacking it would write it, and the message names the
problem the code gives for it.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgproc.adapters.storage.router import Storage, memory_storage
from imgproc.core.errors import ConfigurationError
from imgproc.core.storage import Location, LocationError, Root, locate, parse_places

PLACES = parse_places(["imgproc", "photos/in"])
LOCAL = Root("/srv/in")
S3_ROOT = Root("s3://imgproc/run-1")


@pytest.mark.parametrize(("text", "problem"), [
    ("../a.jpg", "must not contain '..'"),
    ("sub/../a.jpg", "must not contain '..'"),
    ("sub\\..\\a.jpg", "must not contain '..'"),
    ("/etc/passwd", "must be relative to its root"),
    ("\\etc\\passwd", "must be relative to its root"),
    ("", "must be relative to its root"),
    (".", "leads outside its root"),
    ("././/", "leads outside its root"),
])
def test_a_relative_path_leaving_a_local_root_is_refused(text: str, problem: str) -> None:
    with pytest.raises(LocationError, match=re.escape(problem)):
        locate(text, "input", LOCAL, PLACES)


@pytest.mark.parametrize(("text", "key"), [
    ("./x//y.jpg", "x/y.jpg"),
    ("a\\b.jpg", "a/b.jpg"),
    ("photos/a.jpg", "photos/a.jpg"),
    # One slash is no URL: a file named 's3:' under the root, still confined to it.
    ("s3:/imgproc/a", "s3:/imgproc/a"),
])
def test_a_relative_path_under_a_local_root_is_cleaned(text: str, key: str) -> None:
    assert locate(text, "input", LOCAL, PLACES) == Location(None, key)


@pytest.mark.parametrize(("text", "bucket", "key"), [
    ("s3://imgproc/a.jpg", "imgproc", "a.jpg"),
    ("s3://imgproc/deep/er/a.jpg", "imgproc", "deep/er/a.jpg"),
    ("s3://photos/in/a.jpg", "photos", "in/a.jpg"),
    ("s3://imgproc/" + "k" * 1024, "imgproc", "k" * 1024),
])
def test_an_s3_url_inside_a_place_is_accepted(text: str, bucket: str, key: str) -> None:
    assert locate(text, "output", LOCAL, PLACES) == Location(bucket, key)


@pytest.mark.parametrize(("text", "problem"), [
    ("s3://other/a.jpg", "lies outside the places"),
    ("s3://photos/inside/a.jpg", "lies outside the places"),
    ("s3://photos/in", "lies outside the places"),
    ("s3://photos/other/a.jpg", "lies outside the places"),
    ("s3://imgproc/../other/a.jpg", "must not contain '.' or '..' segments"),
    ("s3://photos/in/../../x", "must not contain '.' or '..' segments"),
    ("s3://imgproc/./a.jpg", "must not contain '.' or '..' segments"),
    ("s3://imgproc/a//b", "must not contain empty segments"),
    ("s3://photos/in/", "must not contain empty segments"),
    ("s3://imgproc/a/", "must not contain empty segments"),
    ("s3://imgproc//a", "needs a key"),
    ("s3://imgproc/", "needs a key"),
    ("s3://imgproc", "needs a key"),
    ("s3://imgproc/a\\..\\b", "must not hold backslashes"),
    ("s3://imgproc/a\nb", "must not hold control characters"),
    ("s3://imgproc/a\x00b", "must not hold control characters"),
    ("s3://imgproc/a\x7fb", "must not hold control characters"),
    ("s3://imgproc/" + "k" * 1025, "has a key longer than 1024 bytes"),
    ("s3://imgproc/" + "é" * 513, "has a key longer than 1024 bytes"),
    ("s3://UP/a", "names no valid bucket"),
    ("s3://a/x", "names no valid bucket"),
    ("s3:///x", "names no valid bucket"),
    ("s3://-imgproc/a", "names no valid bucket"),
    ("s3://imgproc:80/a", "names no valid bucket"),
])
def test_an_s3_url_outside_the_places_or_badly_formed_is_refused(text: str, problem: str) -> None:
    with pytest.raises(LocationError, match=re.escape(problem)):
        locate(text, "input", LOCAL, PLACES)


# 'S3://' is not 's3://': it is refused as another scheme, never taken for a relative path.
@pytest.mark.parametrize("text", [
    "file:///etc/passwd", "http://example.com/a.jpg", "S3://imgproc/a", "gs://imgproc/a",
])
@pytest.mark.parametrize("root", [LOCAL, S3_ROOT], ids=["local", "s3"])
def test_a_url_of_another_scheme_is_refused(text: str, root: Root) -> None:
    with pytest.raises(LocationError, match="is neither an s3:// URL nor a relative path"):
        locate(text, "input", root, PLACES)


@pytest.mark.parametrize(("text", "key"), [
    ("a.jpg", "run-1/a.jpg"),
    ("./x//y.jpg", "run-1/x/y.jpg"),
    ("s3://imgproc/run-1/a.jpg", "run-1/a.jpg"),
])
def test_a_name_under_an_s3_root_lands_under_its_prefix(text: str, key: str) -> None:
    assert locate(text, "input", S3_ROOT, ()) == Location("imgproc", key)


@pytest.mark.parametrize(("text", "problem"), [
    ("../a.jpg", "must not contain '..'"),
    ("x/../../a.jpg", "must not contain '..'"),
    ("a\nb.jpg", "must not hold control characters"),
    ("k" * 1020, "has a key longer than 1024 bytes"),
    ("s3://imgproc/run-10/a.jpg", "lies outside the places"),
    ("s3://imgproc/run-1", "lies outside the places"),
    ("s3://imgproc/a.jpg", "lies outside the places"),
])
def test_a_name_leaving_an_s3_root_is_refused(text: str, problem: str) -> None:
    with pytest.raises(LocationError, match=re.escape(problem)):
        locate(text, "input", S3_ROOT, ())


# A lone surrogate is what Python makes of a command line's or a file name's undecodable
# bytes; the key's length check encodes it and lets a UnicodeEncodeError escape.
@pytest.mark.parametrize(("text", "root"), [
    ("s3://imgproc/a\udcff.jpg", LOCAL),
    ("a\udcff.jpg", S3_ROOT),
], ids=["s3-url", "under-s3-root"])
def test_a_name_with_a_lone_surrogate_is_refused_as_a_location(text: str, root: Root) -> None:
    with pytest.raises(LocationError):
        locate(text, "input", root, PLACES)


@pytest.mark.parametrize("entry", ["UP", "a", "imgproc/../x", "imgproc//x", "", "http://x"])
def test_a_bad_place_is_a_configuration_error_naming_storage_places(entry: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^storage\.places: "):
        parse_places(["imgproc", entry])


@pytest.mark.parametrize(("entry", "place"), [
    ("imgproc", Location("imgproc", "")),
    ("imgproc/", Location("imgproc", "")),
    ("s3://photos/in", Location("photos", "in")),
])
def test_a_place_is_a_bucket_or_a_prefix_of_one(entry: str, place: Location) -> None:
    assert parse_places([entry]) == (place,)


def test_a_url_in_a_place_is_read_and_written_through_its_bucket() -> None:
    storage, buckets = memory_storage("in", "out", places=["imgproc"])
    stored = storage.input("s3://imgproc/a.jpg")
    stored.store.write(stored.key, b"pixels", "job-1")
    assert stored.store.read(stored.key, 100) == b"pixels"
    assert (stored.key, stored.url) == ("a.jpg", "s3://imgproc/a.jpg")
    assert buckets["imgproc"].keys() == ["a.jpg"]


@pytest.mark.parametrize("role", ["input", "output"])
def test_storage_refuses_a_url_in_another_bucket(role: str) -> None:
    storage, buckets = memory_storage("in", "out", places=["imgproc"])
    with pytest.raises(LocationError, match="lies outside the places"):
        getattr(storage, role)("s3://other/a.jpg")
    assert buckets == {}


def test_a_url_without_an_object_store_is_a_configuration_error() -> None:
    storage = Storage(".", ".", places=["imgproc"])
    with pytest.raises(ConfigurationError, match="no object store is configured"):
        storage.input("s3://imgproc/a.jpg")


SEGMENTS = st.sampled_from(["", ".", "..", "root", "a.jpg", "\\", "..\\", "\n"]) | st.text(
    max_size=3)
PATHS = st.lists(SEGMENTS, max_size=6).map("/".join)
TEXTS = st.one_of(st.text(), PATHS, PATHS.map("s3://imgproc/".__add__),
                  PATHS.map("s3://imgproc/root/".__add__))


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_any_text_under_an_s3_root_is_refused_or_stays_under_it(text: str) -> None:
    try:
        location = locate(text, "input", Root("s3://imgproc/root"), ())
    except LocationError:
        return
    segments = location.key.split("/")
    assert location.bucket == "imgproc"
    assert segments[0] == "root" and len(segments) > 1
    assert not {"", ".", ".."} & set(segments)
