"""Where everything lives under the root, and what a machine node holds.

``docs/zookeeper.md`` describes this layout for operators; this module is its
one implementation::

    <root>/machines/<id>     persistent, JSON machine record (schema v1)
    <root>/workers/<id>      ephemeral, empty: held by a live worker's session
    <root>/config/scaler     persistent, JSON ScalerConfig
    <root>/election/scaler   kazoo Election recipe (its lock contenders)
    <root>/scaler/status     persistent, JSON ScalerStatus of the active scaler
    <root>/deployers/<hash>  kazoo Lock recipe: one active deployer per owner

The machine codec, :func:`apply_update` and :class:`MachineListing` are shared with the
in-memory twin so that both accept, reject and skip exactly the same records.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from imgproc.adapters.zk.client import CorruptRecord
from imgproc.core.errors import ImgprocError
from imgproc.core.machines import Machine, MachineState, is_machine_id
from imgproc.core.validation import first_problem

log = logging.getLogger(__name__)
DEFAULT_ROOT = "/imgproc"
MACHINE_SCHEMA: Literal[1] = 1
#: Machine fields that :meth:`MachineRegistry.update` may change; state goes through transition.
#: ``owner`` only as a claim (:meth:`Machine.claimed_by`).
UPDATABLE = frozenset({"address", "current_job", "jobs_done", "reason", "details", "owner"})
NODE_NAME_RULE = "it must be non-empty, not '.' or '..', without '/' or NUL"
MACHINE_ID_RULE = ("a machine id is at most 200 characters, not '.' or '..', without '/' or "
                   "control characters, and does not start with '-'")


class BadNodeName(ImgprocError, ValueError):
    """An id that cannot be a node name (empty, '.', '..', or containing '/')."""

    def __init__(self, kind: str, name: str, rule: str = NODE_NAME_RULE) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"{kind} id {name!r} cannot be a node name: {rule}")


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
        """A machine's node; raises :class:`BadNodeName` unless the id is a machine id
        (:func:`~imgproc.core.machines.is_machine_id`)."""
        if not is_machine_id(machine_id):
            raise BadNodeName("machine", machine_id, MACHINE_ID_RULE)
        return f"{self.machines}/{machine_id}"

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

    def deployer_lock(self, owner: str) -> str:
        """The lock of the deployers of ``owner``, named by a digest (an owner holds '/')."""
        return f"{self.root}/deployers/{hashlib.sha256(owner.encode()).hexdigest()[:20]}"


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
    owner: str | None = Field(default=None, min_length=1)


def encode_machine(machine: Machine) -> bytes:
    """The node data for ``machine``; raises :class:`BadRecord` if a value does not fit.
    A machine nobody owns is written without ``owner``, exactly as before owners existed."""
    values = {f.name: getattr(machine, f.name) for f in fields(Machine)}
    unset = {"owner"} if machine.owner is None else set()
    try:
        return MachineRecord(**values).model_dump_json(exclude=unset).encode()
    except ValidationError as exc:
        raise BadRecord(machine.id, first_problem(exc, "<record>")) from exc
    except ValueError as exc:
        raise BadRecord(machine.id, str(exc)) from exc


def decode_machine(path: str, data: bytes) -> Machine:
    """The machine stored at ``path``; raises :class:`CorruptRecord` (a record of another
    machine than the node names is one too)."""
    try:
        record = MachineRecord.model_validate_json(data)
    except ValidationError as exc:
        raise CorruptRecord(path, first_problem(exc, "<record>")) from exc
    if path.rsplit("/", 1)[-1] != record.id:
        raise CorruptRecord(path, f"it records machine {record.id!r}")
    values = record.model_dump(exclude={"v"})
    return Machine(**values)


def apply_update(machine: Machine, changes: dict[str, Any]) -> Machine:
    """A copy of ``machine`` with ``changes``; raises :class:`BadUpdate` for other fields,
    and :class:`~imgproc.core.machines.NotClaimable` for an ``owner`` it cannot take."""
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise BadUpdate(machine.id, unknown)
    if "owner" in changes:
        machine = machine.claimed_by(changes["owner"])
    return replace(machine, **{k: v for k, v in changes.items() if k != "owner"})


class MachineListing:
    """Reads the nodes of a listing of ``machines/``, skipping what is not a machine.

    Anything may be written there by hand or by a foreign client (bytes that are not JSON,
    another schema, a name that is not a machine id). One such node must not stop whoever
    lists the machines (deployer, scaler, console), so it is logged, once per node and
    problem, and left out; reading it by its id still raises :class:`CorruptRecord`.
    """

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._told: set[tuple[str, str]] = set()

    def machine(self, name: str, data: bytes) -> Machine | None:
        """The machine at node ``name`` holding ``data``; None (logged) if it is not one."""
        path = f"{self._layout.machines}/{name}"
        try:
            if not is_machine_id(name):
                raise CorruptRecord(path, f"{name!r} is not a machine id")
            return decode_machine(path, data)
        except CorruptRecord as exc:
            if (name, exc.problem) not in self._told:
                self._told.add((name, exc.problem))
                log.warning("skipping %s in the machine listing: %s", path, exc.problem)
            return None
