"""How to reach ZooKeeper and how hard to retry: a frozen value, no environment reading.

The application's settings (``imgproc.settings``) build one of these from flags,
environment and files; adapters receive it, so nothing here reads the outside
world.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RetrySettings(BaseModel):
    """Parameters of one :class:`kazoo.retry.KazooRetry` (``max_tries=-1``: forever)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tries: int = Field(default=5, ge=-1)
    delay_s: float = Field(default=0.1, gt=0)
    backoff: float = Field(default=2.0, ge=1)
    max_delay_s: float = Field(default=5.0, gt=0)

    def as_kazoo(self) -> dict[str, float | int]:
        """Keyword arguments for ``KazooRetry``."""
        return {"max_tries": self.max_tries, "delay": self.delay_s,
                "backoff": self.backoff, "max_delay": self.max_delay_s}


class ZkSettings(BaseModel):
    """Where ZooKeeper is, which subtree is ours, and the session and retry limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: str = Field(default="127.0.0.1:2181", min_length=1,
                       description="comma-separated host:port list")
    root: str = Field(default="/imgproc", description="every node of ours lives under it")
    session_timeout_s: float = Field(
        default=10.0, gt=0,
        description="ephemeral nodes outlive a dead or cut-off client this long; the server "
                    "keeps it within 2 to 20 of its ticks (4 to 40 s with tickTime=2000)")
    connect_timeout_s: float = Field(default=5.0, gt=0,
                                     description="how long connect() waits for a first session")
    connection_retry: RetrySettings = Field(
        default_factory=lambda: RetrySettings(max_tries=-1, delay_s=0.1, max_delay_s=2.0),
        description="reconnecting after a lost connection",
    )
    command_retry: RetrySettings = Field(
        default_factory=RetrySettings,
        description="re-running one command after a connection loss",
    )
    cas_max_tries: int = Field(default=50, ge=1,
                               description="compare-and-set attempts before giving up")

    def enduring(self) -> ZkSettings:
        """A copy whose commands retry for as long as ZooKeeper is away: for the long-running
        processes (worker, deployer, scaler), which have nothing better to do."""
        return self.model_copy(update={
            "command_retry": self.command_retry.model_copy(update={"max_tries": -1})})

    @field_validator("root")
    @classmethod
    def _absolute_and_not_the_tree_root(cls, root: str) -> str:
        if not root.startswith("/") or root == "/" or root.endswith("/"):
            raise ValueError("root must be an absolute path such as /imgproc, not '/'")
        if root == "/zookeeper" or root.startswith("/zookeeper/"):
            raise ValueError("root must not be under /zookeeper, ZooKeeper's own subtree")
        return root
