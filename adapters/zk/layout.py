"""Where everything lives under the root, and what a machine node holds.

``docs/zookeeper.md`` describes this layout for operators; this module is its
one implementation::

    <root>/machines/<id>     persistent, JSON machine record (schema v1)
    <root>/workers/<id>      ephemeral, empty: held by a live worker's session
    <root>/config/scaler     persistent, JSON ScalerConfig
    <root>/election/scaler   kazoo Election recipe (its lock contenders)
    <root>/scaler/status     persistent, JSON ScalerStatus of the active scaler

The machine codec and :func:`apply_update` are shared with the in-memory twin
so that both accept and reject exactly the same records.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from imgproc.adapters.zk.client import CorruptRecord
from imgproc.core.errors import ImgprocError
from imgproc.core.machines import Machine, MachineState
from imgproc.core.validation import first_problem

DEFAULT_ROOT = "/imgproc"
MACHINE_SCHEMA: Literal[1] = 1
#: Machine fields that :meth:`MachineRegistry.update` may change; state goes through transition.
UPDATABLE = frozenset({"address", "current_job", "jobs_done", "reason", "details"})


class BadNodeName(ImgprocError, ValueError):
    """An id that cannot be a node name (empty, '.', '..', or containing '/')."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"{kind} id {name!r} cannot be a node name: "
                         "it must be non-empty, not '.' or '..', without '/' or NUL")


class BadRecord(ImgprocError, ValueError):
    """A machine whose values cannot be stored as a valid JSON record."""

    def __init__(self, machine_id: str, problem: str) -> None:
        self.machine_id = machine_id
        self.problem = problem
        super().__init__(f"machine {machine_id}: cannot be stored: {problem}")


class BadUpdate(ImgprocError, TypeError):
    """An update names fields that are not updatable."""

    def __init__(self, machine_id: str, names: list[str]) -> None:
        self.machine_id = machine_id
        self.names = names
        super().__init__(f"machine {machine_id}: cannot update {', '.join(names)}; "
                         f"updatable: {', '.join(sorted(UPDATABLE))} (state: use transition)")


def check_name(kind: str, name: str) -> str:
    """``name`` if it can be one path segment; raises :class:`BadNodeName`."""
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise BadNodeName(kind, name)
    return name


@dataclass(frozen=True)
class Layout:
    """The paths of every node, under ``root``."""

    root: str = DEFAULT_ROOT

    @property
    def machines(self) -> str:
        return f"{self.root}/machines"

    def machine(self, machine_id: str) -> str:
        return f"{self.machines}/{check_name('machine', machine_id)}"

    @property
    def workers(self) -> str:
        return f"{self.root}/workers"

    def worker(self, worker_id: str) -> str:
        return f"{self.workers}/{check_name('worker', worker_id)}"

    @property
    def scaler_config(self) -> str:
        return f"{self.root}/config/scaler"

    @property
    def scaler_election(self) -> str:
        return f"{self.root}/election/scaler"

    @property
    def scaler_status(self) -> str:
        return f"{self.root}/scaler/status"


class MachineRecord(BaseModel):
    """The JSON form of a :class:`Machine`; its fields mirror the dataclass plus ``v``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = MACHINE_SCHEMA
    id: str = Field(min_length=1)
    state: MachineState
    requested_at: float
    state_since: float
    address: str | None = None
    current_job: str | None = None
    jobs_done: int = Field(default=0, ge=0)
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def encode_machine(machine: Machine) -> bytes:
    """The node data for ``machine``; raises :class:`BadRecord` if a value does not fit."""
    values = {f.name: getattr(machine, f.name) for f in fields(Machine)}
    try:
        return MachineRecord(**values).model_dump_json().encode()
    except ValidationError as exc:
        raise BadRecord(machine.id, first_problem(exc, "<record>")) from exc
    except ValueError as exc:
        raise BadRecord(machine.id, str(exc)) from exc


def decode_machine(path: str, data: bytes) -> Machine:
    """The machine stored at ``path``; raises :class:`CorruptRecord`."""
    try:
        record = MachineRecord.model_validate_json(data)
    except ValidationError as exc:
        raise CorruptRecord(path, first_problem(exc, "<record>")) from exc
    values = record.model_dump(exclude={"v"})
    return Machine(**values)


def apply_update(machine: Machine, changes: dict[str, Any]) -> Machine:
    """A copy of ``machine`` with ``changes``; raises :class:`BadUpdate` for other fields."""
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise BadUpdate(machine.id, unknown)
    return replace(machine, **changes)
