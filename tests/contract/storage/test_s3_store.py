"""S3 on the real SeaweedFS: what only a remote store can do wrong."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from pydantic import SecretStr

from imgproc.adapters.storage.s3 import S3Store, s3_client
from imgproc.adapters.storage.settings import StorageSettings
from imgproc.core.storage import StorageError, StorageUnavailable


def test_a_wrong_secret_is_refused_and_never_shown(s3_settings: StorageSettings):
    s3_prefix = f"tests/{uuid.uuid4().hex[:12]}/"
    wrong = "not-the-secret-" + "x" * 20
    settings = s3_settings.model_copy(update={"secret_access_key": SecretStr(wrong)})
    store = S3Store(s3_client(settings), settings.bucket, retry_s=0)
    with pytest.raises(StorageError, match="access denied") as caught:
        store.write(s3_prefix + "a.jpg", b"data", "job-1")
    assert f"s3://{settings.bucket}/{s3_prefix}a.jpg" in str(caught.value)
    assert wrong not in str(caught.value) and s3_settings.secret() not in str(caught.value)


def test_a_store_that_does_not_answer_is_retried_then_named(s3_settings: StorageSettings):
    settings = s3_settings.model_copy(update={"endpoint_url": "http://127.0.0.1:9",
                                              "timeout_s": 0.5})
    store = S3Store(s3_client(settings), "imgproc", retry_s=1.0)
    began = time.monotonic()
    with pytest.raises(StorageUnavailable, match=re.escape("s3://imgproc/in/a.jpg")) as caught:
        store.read("in/a.jpg", max_bytes=100)
    assert 1.0 <= time.monotonic() - began < 15
    assert "retried for 1 s" in str(caught.value)


def test_a_missing_bucket_is_named(s3_settings: StorageSettings):
    store = S3Store(s3_client(s3_settings), "no-such-bucket-imgproc", retry_s=0)
    with pytest.raises(StorageError, match=re.escape(
            "s3://no-such-bucket-imgproc/a.jpg: the bucket does not exist")):
        store.read("a.jpg", max_bytes=100)
