"""Where a job's images live: the URLs that name them and the rules that confine them.

A job names its input and output either by a path relative to its role's root (the
traces' form: ``photos/a.jpg``), or by an object URL (``s3://bucket/key``). A root is a
local directory or itself a URL (``s3://imgproc/run-1``), so a trace replays unchanged on
a bucket. An object URL must lie inside one of the configured places (a bucket, or a
prefix of one), as a path must lie inside its root: a job cannot read another tenant's
objects or overwrite ours. Only the text is checked here; the local store checks what a
path's symbolic links lead to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from imgproc.core.errors import ConfigurationError, ImgprocError

S3_SCHEME: Final = "s3://"
MAX_KEY_BYTES: Final = 1024
"""S3's limit on a key's length."""
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class LocationError(ImgprocError):
    """A job's input or output names a place it may not use."""

    def __init__(self, role: str, text: str, problem: str) -> None:
        self.role = role
        self.text = text
        self.problem = problem
        noun = "" if "://" in text else "path "
        super().__init__(f"{role} {noun}'{text}' {problem}")


class StorageError(ImgprocError):
    """An object store could not do what was asked; names the object, never a credential."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class ObjectMissing(StorageError):
    """No object, or no file, under that name."""


class ObjectTooLarge(StorageError):
    """Larger than the limit: refused before it was downloaded."""

    def __init__(self, where: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(where, f"{size:,} bytes, over the limit of {limit:,}")


class ObjectTaken(StorageError):
    """An output already written by another job: outputs belong to the job that first wrote
    them, so a job redelivered may write its own again, another may not."""

    def __init__(self, where: str, owner: str) -> None:
        self.owner = owner
        super().__init__(where, f"already written by job '{owner}'")


class StorageUnavailable(StorageError):
    """The store did not answer, or failed, through every retry."""


@dataclass(frozen=True, slots=True)
class Location:
    """An object in a bucket, or (``bucket`` None) a path under a local root."""

    bucket: str | None
    key: str

    @property
    def url(self) -> str:
        """As a job names it: ``s3://bucket/key``, or the relative path."""
        return f"{S3_SCHEME}{self.bucket}/{self.key}" if self.bucket else self.key

    def joined(self, relative: str) -> Location:
        """``relative`` under this place (a root)."""
        prefix = self.key.rstrip("/")
        return Location(self.bucket, f"{prefix}/{relative}" if prefix else relative)

    def contains(self, other: Location) -> bool:
        """Whether ``other`` lies in this place: the same bucket, under this key as a prefix
        of whole segments."""
        if other.bucket != self.bucket:
            return False
        prefix = self.key.rstrip("/")
        return not prefix or other.key.startswith(prefix + "/")


@dataclass(frozen=True, slots=True)
class Root:
    """A role's root as configured: a local directory (kept as its text) or an S3 place."""

    text: str

    @property
    def place(self) -> Location | None:
        """The S3 place, or None for a local directory."""
        if not self.text.startswith(S3_SCHEME):
            return None
        return parse_s3(self.text, "root", allow_bare_bucket=True)


def parse_s3(text: str, role: str, allow_bare_bucket: bool = False) -> Location:
    """``s3://bucket/key`` as a location; the key's text is checked as :func:`check_key` says."""
    bucket, _, key = text[len(S3_SCHEME):].partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise LocationError(role, text, f"names no valid bucket ('{bucket}': 3-63 "
                                        "lower-case letters, digits, '.' and '-')")
    if not key and allow_bare_bucket:
        return Location(bucket, "")
    check_key(key.rstrip("/") if allow_bare_bucket else key, role, text)
    return Location(bucket, key)


def check_key(key: str, role: str, text: str) -> None:
    """Refuse keys that could name something else than they seem: empty, absolute, with
    ``.`` or ``..`` or empty segments, backslashes or control characters, or too long."""
    if not key or key.startswith("/"):
        raise LocationError(role, text, "needs a key: a relative name")
    if "\\" in key:
        raise LocationError(role, text, "must not hold backslashes")
    check_characters(key, role, text)
    segments = key.split("/")
    if ".." in segments or "." in segments:
        raise LocationError(role, text, "must not contain '.' or '..' segments")
    if "" in segments:
        raise LocationError(role, text, "must not contain empty segments ('//' or a "
                                        "trailing '/')")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise LocationError(role, text, f"has a key longer than {MAX_KEY_BYTES} bytes")


def check_characters(name: str, role: str, text: str) -> None:
    """Refuse control characters, and what is not text (undecodable bytes that Python keeps
    as lone surrogates, from a command line or a file name)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise LocationError(role, repr(text)[1:-1], "must not hold control characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise LocationError(role, text.encode("utf-8", "replace").decode(),
                            "is not valid UTF-8") from None


def parse_places(entries: Sequence[str]) -> tuple[Location, ...]:
    """The configured places where jobs may name objects: ``bucket`` or ``bucket/prefix``."""
    places = []
    for entry in entries:
        text = entry if entry.startswith(S3_SCHEME) else S3_SCHEME + entry
        try:
            places.append(parse_s3(text, "storage place", allow_bare_bucket=True))
        except LocationError as exc:
            raise ConfigurationError(f"storage.places: {exc}") from exc
    return tuple(places)


def locate(text: str, role: str, root: Root, places: Sequence[Location]) -> Location:
    """Where a job's ``input`` or ``output`` (``role``) is, or a :class:`LocationError`.

    A relative path lies under ``root``; an ``s3://`` URL must lie in one of ``places``
    or under an S3 root; every other URL and every absolute path is refused.
    """
    if text.startswith(S3_SCHEME):
        location = parse_s3(text, role)
        allowed = [*places, *([root.place] if root.place else [])]
        if not any(place.contains(location) for place in allowed):
            raise LocationError(role, text, "lies outside the places jobs may use (storage.places)")
        return location
    if _SCHEME.match(text):
        raise LocationError(role, text, "is neither an s3:// URL nor a relative path")
    relative = relative_path(text, role)
    place = root.place
    if place is None:
        return Location(None, relative)
    location = place.joined(relative)
    check_key(location.key, role, text)
    return location


def relative_path(text: str, role: str) -> str:
    """A path relative to its root, with the refusals a local root always had."""
    if not text or text.startswith(("/", "\\")):
        raise LocationError(role, text, "must be relative to its root")
    check_characters(text, role, text)
    segments = text.replace("\\", "/").split("/")
    if ".." in segments:
        raise LocationError(role, text, "must not contain '..'")
    cleaned = "/".join(s for s in segments if s not in ("", "."))
    if not cleaned:
        raise LocationError(role, text, "leads outside its root")
    return cleaned

