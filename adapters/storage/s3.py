"""Objects in an S3-compatible store, through boto3.

boto3 rather than fsspec with s3fs: we need four calls (get, put, head, and a
conditional put), their error codes and the object's metadata, which boto3 gives
directly; s3fs would add an async layer and a cache that a worker reading each object
once does not need. botocore retries a request a few times; over that, a store that does
not answer is retried with backoff for ``storage.retry_s`` (a SeaweedFS restart takes a
few seconds), then the job fails with :class:`StorageUnavailable`.

An output belongs to the job that first wrote it, as with local files: the object carries
its job id in its metadata (percent-encoded: metadata is ASCII) and is first put with
``If-None-Match: *``, so that of two jobs racing for one key only one creates it; a job
finding its own object (a redelivery) puts it again. Errors name ``s3://bucket/key``, never
a credential.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import Any
from urllib.parse import quote, unquote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from imgproc.adapters.storage.settings import StorageSettings
from imgproc.core.storage import (
    ObjectMissing,
    ObjectTaken,
    ObjectTooLarge,
    StorageError,
    StorageUnavailable,
)

log = logging.getLogger(__name__)
OWNER_KEY = "imgproc-job"
"""The object's metadata entry naming the job that wrote it."""
_MISSING = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
_TAKEN = {"PreconditionFailed", "412"}


class _Transient(Exception):
    """A failure worth another try: no answer, a 5xx, throttling."""


def s3_client(settings: StorageSettings) -> Any:
    """A boto3 client (thread-safe) for the configured endpoint and credentials."""
    config = Config(connect_timeout=settings.timeout_s, read_timeout=settings.timeout_s,
                    retries={"max_attempts": 3, "mode": "standard"},
                    s3={"addressing_style": "path"})
    return boto3.session.Session().client(
        "s3", endpoint_url=settings.endpoint_url or None, region_name=settings.region,
        aws_access_key_id=settings.access_key_id, aws_secret_access_key=settings.secret(),
        config=config)


class S3Store:
    """An :class:`~imgproc.core.ports.ObjectStore` on one bucket."""

    def __init__(self, client: Any, bucket: str, retry_s: float = 30.0) -> None:
        self.client = client
        self.bucket = bucket
        self.retry_s = retry_s

    def read(self, key: str, max_bytes: int) -> bytes:
        def get() -> bytes:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
            body = answer["Body"]
            if answer["ContentLength"] > max_bytes:
                body.close()
                raise ObjectTooLarge(self._where(key), answer["ContentLength"], max_bytes)
            return body.read()

        return self._call(key, "read", get)

    def write(self, key: str, data: bytes, owner: str) -> None:
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        put = {"Bucket": self.bucket, "Key": key, "Body": data, "ContentType": content_type,
               "Metadata": {OWNER_KEY: quote(owner, safe="")}}
        try:
            self._call(key, "write", lambda: self.client.put_object(**put, IfNoneMatch="*"))
            return
        except ObjectTaken:
            found = self.owner(key)
            if found != owner:
                raise ObjectTaken(self._where(key), found or "(not an imgproc job)") from None
        self._call(key, "write", lambda: self.client.put_object(**put))

    def owner(self, key: str) -> str | None:
        """The job that wrote ``key`` (None if no imgproc job did)."""
        head = self._call(key, "read", lambda: self.client.head_object(
            Bucket=self.bucket, Key=key))
        found = head.get("Metadata", {}).get(OWNER_KEY)
        return None if found is None else unquote(found)

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectMissing:
            return False
        return True

    def size(self, key: str) -> int:
        head = self._call(key, "read", lambda: self.client.head_object(
            Bucket=self.bucket, Key=key))
        return int(head["ContentLength"])

    def close(self) -> None:
        """The client is shared by the router, which closes it."""

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _call(self, key: str, doing: str, request: Any) -> Any:
        """``request()``, retried while the store does not answer; its errors as ours."""
        retrying = Retrying(stop=stop_after_delay(self.retry_s), reraise=True,
                            wait=wait_exponential(multiplier=0.2, max=5),
                            retry=retry_if_exception_type(_Transient),
                            before_sleep=lambda state: log.warning(
                                "%s: %s, trying again (%d)", self._where(key),
                                state.outcome.exception() if state.outcome else "?",
                                state.attempt_number))
        try:
            return retrying(self._translated, key, doing, request)
        except _Transient as exc:
            raise StorageUnavailable(self._where(key), f"cannot be {doing_past(doing)}: "
                                     f"{exc} (retried for {self.retry_s:g} s)") from exc

    def _translated(self, key: str, doing: str, request: Any) -> Any:
        where = self._where(key)
        try:
            return request()
        except ClientError as exc:
            raise translate(exc, where, doing) from exc
        except ParamValidationError as exc:
            raise StorageError(where, f"cannot be {doing_past(doing)}: {exc}") from exc
        except BotoCoreError as exc:
            raise _Transient(str(exc)) from exc


def translate(exc: ClientError, where: str, doing: str) -> Exception:
    """An S3 error answer as one of ours (or as :class:`_Transient`, to be retried)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _TAKEN:
        return ObjectTaken(where, "(unknown)")
    if code in _MISSING:
        return ObjectMissing(where, "object not found")
    if code == "NoSuchBucket":
        return StorageError(where, "the bucket does not exist")
    if code in _DENIED:
        return StorageError(where, f"access denied ({code}): check storage.access_key_id and "
                                   "its secret, and the bucket's policy")
    if status >= 500 or code in ("SlowDown", "RequestTimeout", "ServiceUnavailable"):
        return _Transient(f"{code or status}: {error.get('Message', '')}".strip())
    return StorageError(where, f"cannot be {doing_past(doing)}: {code or status} "
                               f"{error.get('Message', '')}".strip())


def doing_past(doing: str) -> str:
    return {"read": "read", "write": "written"}.get(doing, doing)
