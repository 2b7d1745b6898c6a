"""Where the broker is and what its queues are called, and how to print its address safely.

:class:`RabbitSettings` is a plain frozen model: it reads no environment. The
application's settings build it; tests build it directly.

Several brokers (a cluster): ``url`` may list several AMQP URLs separated by commas;
a connection goes to the first that answers, and a reconnect tries them all again.

Isolation: the vhost is the path of ``url`` (``%2F`` is the default vhost
``/``), and :meth:`RabbitSettings.isolated` gives a copy whose every queue and
exchange name carries a prefix, so two runs can share one broker and vhost
without seeing each other's messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from imgproc.adapters.secrets import read_secret

NAME_FIELDS = ("jobs_queue", "dead_letter_queue", "results_exchange",
               "deployer_queue", "callback_queue", "kept_results_queue", "reply_queue_prefix")


class RabbitSettings(BaseModel):
    """Connection and topology of the RabbitMQ broker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    url_file: Path | None = Field(
        default=None, description="a file (mode 0600) holding the URL with its password; "
                                  "replaces url")
    jobs_queue: str = "upload-picture"
    dead_letter_queue: str = "upload-picture.dead"
    results_exchange: str = "imgproc.results"
    deployer_queue: str = "deployer"
    callback_queue: str = "deployer_callback"
    heartbeat_s: int = Field(default=30, ge=0, description="AMQP heartbeat; 0 disables it")
    socket_timeout_s: float = Field(default=5.0, gt=0)
    blocked_timeout_s: float = Field(default=60.0, gt=0, description="give up on a blocked broker")
    connect_attempts: int | None = Field(
        default=8, ge=1, description="tries per operation, the first too; none: never give up")
    backoff_s: float = Field(default=0.2, ge=0, description="first wait between tries, doubling")
    max_backoff_s: float = Field(default=5.0, ge=0)
    feed_prefetch: int = Field(default=200, ge=1, description="results in flight to one feed")
    delivery_limit: int = Field(
        default=3, ge=1, le=1000,
        description="a job handed out this many times more (its worker died each time) is "
                    "dead-lettered")
    kept_results_queue: str = Field(
        default="imgproc.results.log",
        description="a stream of every result, kept to be found by job id (imgproc broker "
                    "result) and read by replays")
    kept_results_ttl_s: float = Field(default=7 * 86400.0, gt=0, allow_inf_nan=False,
                                      description="a kept result is dropped after this")
    kept_results_max_bytes: int = Field(
        default=256 * 2**20, ge=4096,
        description="the kept results take at most about this much disk; the oldest go")

    reply_queue_prefix: str = Field(
        default="imgproc.replies.", pattern=r"imgproc\.replies\.$",
        description="a job client's reply queue is this and the client's id")
    reply_queue_expiry_s: float = Field(
        default=3600.0, ge=1, allow_inf_nan=False,
        description="a reply queue unused this long (its client gone) is deleted by the broker")

    @model_validator(mode="before")
    @classmethod
    def _url_from_file(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("url_file"):
            values = {**values, "url": read_secret(Path(values["url_file"]), "rabbit.url_file")}
        return values

    @property
    def urls(self) -> list[str]:
        """Every broker address in ``url``, in order."""
        return [u.strip() for u in self.url.split(",") if u.strip()]

    def enduring(self) -> RabbitSettings:
        """A copy that retries through a broker outage of any length: for the long-running
        processes (worker, deployer, scaler), which have nothing better to do."""
        return self.model_copy(update={"connect_attempts": None})

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden: the only form of it that may be logged."""
        return ",".join(redacted(u) for u in self.urls) or redacted(self.url)

    def isolated(self, prefix: str) -> RabbitSettings:
        """A copy whose every queue and exchange name starts with ``prefix``."""
        return self.model_copy(update={f: prefix + getattr(self, f) for f in NAME_FIELDS})

    def with_vhost(self, vhost: str) -> RabbitSettings:
        """A copy that connects to ``vhost`` on the same broker (every one of a cluster)."""
        path = "/" + vhost.replace("/", "%2F")
        urls = [urlunsplit(urlsplit(u)._replace(path=path)) for u in self.urls]
        return self.model_copy(update={"url": ",".join(urls)})


def redacted(url: str) -> str:
    """``url`` with the password replaced by ``***`` (``amqp://guest:***@host:5672/%2F``)."""
    try:
        parts = urlsplit(url)
        password = parts.password
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable broker url>"
    if password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}{port}"
    return urlunsplit(parts._replace(netloc=netloc))
