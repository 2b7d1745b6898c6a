"""Where the object store is, how to sign in, and where jobs may name objects.

:class:`StorageSettings` is a plain frozen model: it reads no environment. The secret is
given as a value or, better, as a file (``storage.secret_access_key_file``) that only its
owner may read (:func:`~imgproc.adapters.secrets.read_secret`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from imgproc.adapters.secrets import read_secret

DEFAULT_SECRET_FILE = Path("/var/lib/imgproc/storage/secret-access-key")
"""Where scripts/ensure-services.sh writes the secret of the S3 server it starts."""


class StorageSettings(BaseModel):
    """The S3-compatible object store (SeaweedFS here, any S3 elsewhere)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str = Field(default="http://127.0.0.1:8333",
                              description="the S3 endpoint; empty: the AWS default")
    region: str = "us-east-1"
    access_key_id: str = "imgproc"
    secret_access_key: SecretStr | None = Field(
        default=None, description="prefer secret_access_key_file: a value shows in a process's "
                                  "environment")
    secret_access_key_file: Path = Field(
        default=DEFAULT_SECRET_FILE, description="read when secret_access_key is unset; "
                                                 "mode 0600")
    bucket: str = Field(default="imgproc",
                        description="where the job client uploads inputs and writes outputs")
    places: list[str] = Field(
        default_factory=lambda: ["imgproc"],
        description="buckets, or bucket/prefix, whose objects jobs may name by s3:// URL")
    max_object_bytes: int = Field(default=256 * 2**20, gt=0,
                                  description="a larger input is refused before downloading")
    retry_s: float = Field(default=30.0, ge=0, allow_inf_nan=False,
                           description="how long to retry a store that does not answer")
    timeout_s: float = Field(default=10.0, gt=0, allow_inf_nan=False,
                             description="connect and read timeout of one request")

    def secret(self) -> str:
        """The secret access key, from the value or the file."""
        if self.secret_access_key is not None:
            return self.secret_access_key.get_secret_value()
        return read_secret(self.secret_access_key_file, "storage.secret_access_key_file")
