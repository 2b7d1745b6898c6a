"""The versioned JSON messages that cross process boundaries.

Every message carries ``v`` (the schema version) and is validated on both
ends; nothing is ever unpickled. Times are seconds since the Unix epoch as
read by the sender's injected clock.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from imgproc.core.errors import ImgprocError
from imgproc.core.image_ops import ImageOp
from imgproc.core.machines import is_machine_id
from imgproc.core.validation import MAX_EPOCH_S, MAX_SERVICE_S, first_problem

SCHEMA_VERSION: Final = 1
REPLY_QUEUE_PATTERN: Final = r"^[A-Za-z0-9_.-]{0,100}imgproc\.replies\.[A-Za-z0-9_-]{1,100}$"
"""A job may name only a reply queue of this form (``rabbit.reply_queue_prefix`` and a client
id): any other name would let a job's sender make workers publish onto the jobs queue, or
the deployer's."""


class BadMessage(ImgprocError):
    """A message that cannot be decoded or validated; it goes to the dead-letter queue."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(f"invalid {kind} message: {reason}")


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = SCHEMA_VERSION

    def encode(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def decode(cls, body: bytes) -> Any:
        try:
            return cls.model_validate_json(body)
        except ValidationError as exc:
            raise BadMessage(cls.__name__, first_problem(exc, "<message>")) from exc


class JobMessage(_Message):
    """A job on the jobs queue; its numbers are finite and within ``core.validation``'s
    bounds, so a worker never sleeps forever on ``service_s: Infinity``."""

    job_id: str = Field(min_length=1, max_length=200)
    submitted_at: float = Field(ge=0, le=MAX_EPOCH_S, allow_inf_nan=False)
    service_s: float | None = Field(default=None, ge=0, le=MAX_SERVICE_S, allow_inf_nan=False)
    user: str = "default"
    ops: list[ImageOp] = Field(default_factory=list)
    input: str | None = Field(default=None, max_length=2048,
                              description="a path under the input root, or s3://bucket/key")
    output: str | None = Field(default=None, max_length=2048,
                               description="a path under the output root, or s3://bucket/key")
    reply_to: str | None = Field(
        default=None, pattern=REPLY_QUEUE_PATTERN,
        description="a client's reply queue: the worker sends the result there too")

    @model_validator(mode="after")
    def _work_is_described(self) -> JobMessage:
        if not self.ops and self.service_s is None:
            raise ValueError("a job without ops needs service_s")
        if self.ops and (not self.input or not self.output):
            raise ValueError("a job with ops needs input and output")
        return self


class ResultMessage(_Message):
    """What a worker reports after a job, on the results exchange."""

    job_id: str
    worker: str
    submitted_at: float
    started_at: float
    finished_at: float
    status: Literal["done", "failed"]
    error: str | None = None
    redelivered: bool = False
    output: str | None = Field(default=None, description="the output written (image jobs)")
    output_bytes: int | None = Field(default=None, ge=0)
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    format: str | None = None

    @property
    def response_s(self) -> float:
        return self.finished_at - self.submitted_at

    @property
    def service_s(self) -> float:
        return self.finished_at - self.started_at


class DeployerCommand(_Message):
    """An order to the deployer: bring a machine up, or take it down (draining it)."""

    command: Literal["provision", "destroy"]
    machine_id: str
    machine_type: str = "worker"
    sent_at: float

    @field_validator("machine_id")
    @classmethod
    def _a_machine_id(cls, value: str) -> str:
        if not is_machine_id(value):
            raise ValueError("not a machine id: it could name a path or an option")
        return value


class StateReport(_Message):
    """The deployer's report of a machine's new state (the seed's deployer_callback)."""

    machine_id: str
    state: str
    at: float
    address: str | None = None
    reason: str | None = None


class ScalerConfig(_Message):
    """The live scaler configuration kept in the registry; a running scaler watches it."""

    policy: str
    params: dict[str, Any] = Field(default_factory=dict)
    requested_at: float | None = None


class ScalerStatus(BaseModel):
    """What the active scaler applies: who it is, which policy, since when (epoch seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    identifier: str = Field(min_length=1)
    policy: str = Field(min_length=1)
    applied_at: float
