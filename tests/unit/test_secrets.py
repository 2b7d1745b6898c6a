"""Secrets come from files that only their owner may read; the errors say which file and
what to do, and never show the secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgproc.adapters.rabbit.settings import RabbitSettings
from imgproc.adapters.secrets import read_secret
from imgproc.adapters.storage.settings import StorageSettings
from imgproc.core.errors import ConfigurationError
from imgproc.settings import load_settings

URL = "amqp://fleet:s3cr3t-pass@10.0.0.5:5672/%2F"


def secret_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secret"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_secret_file_is_read_without_its_surrounding_blanks(tmp_path):
    assert read_secret(secret_file(tmp_path, "  abc\n"), "x") == "abc"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_secret_file_others_may_read_is_refused_with_the_fix(tmp_path, mode):
    path = secret_file(tmp_path, "abc", mode)
    with pytest.raises(ConfigurationError, match=f"mode {mode:04o} lets others read") as caught:
        read_secret(path, "storage.secret_access_key_file")
    assert f"chmod 600 {path}" in str(caught.value) and "abc" not in str(caught.value)


def test_a_missing_or_empty_secret_file_is_named(tmp_path):
    with pytest.raises(ConfigurationError, match=r"rabbit\.url_file .*nowhere: not found"):
        read_secret(tmp_path / "nowhere", "rabbit.url_file")
    with pytest.raises(ConfigurationError, match="the file is empty"):
        read_secret(secret_file(tmp_path, "\n"), "rabbit.url_file")


def test_the_broker_url_comes_from_its_file_and_is_never_printed(tmp_path):
    settings = RabbitSettings(url_file=secret_file(tmp_path, URL))
    assert settings.url == URL
    assert "s3cr3t-pass" not in settings.safe_url


def test_the_broker_url_file_is_taken_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGPROC_RABBIT__URL_FILE", str(secret_file(tmp_path, URL)))
    assert load_settings().rabbit.url == URL


def test_a_bad_url_file_is_a_settings_error_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGPROC_RABBIT__URL_FILE", str(secret_file(tmp_path, URL, 0o644)))
    with pytest.raises(ConfigurationError, match=r"rabbit\.url_file") as caught:
        load_settings()
    assert "s3cr3t-pass" not in str(caught.value)


def test_the_storage_secret_comes_from_its_file(tmp_path):
    settings = StorageSettings(secret_access_key_file=secret_file(tmp_path, "key-1"))
    assert settings.secret() == "key-1"
    assert "key-1" not in repr(settings)
