"""Machine lifecycle: states, the legal moves between them, and a machine record.

A machine is asked for (``preparing``), boots (``booting``), serves jobs
(``running``), may be told to finish its current job and take no more
(``draining``), is torn down (``destroying``) and ends ``destroyed``. Any live
state may end in ``failed``; a failed machine is still torn down.

A machine has an *owner*: the deployer that provisions it claims it while it is still
``preparing`` (:meth:`Machine.claimed_by`), and from then on only that deployer judges
whether it is alive (see :mod:`imgproc.core.deployer` for why).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from imgproc.core.errors import IllegalTransition, ImgprocError


class MachineState(StrEnum):
    PREPARING = "preparing"
    BOOTING = "booting"
    RUNNING = "running"
    DRAINING = "draining"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"
    FAILED = "failed"


S = MachineState

def is_machine_id(text: str) -> bool:
    """Whether ``text`` can be a machine id: it names files, ZooKeeper nodes and a worker's
    ``--machine-id``, so never a path (no ``/``, not ``.`` or ``..``), no control
    character, not an option (no leading ``-``), at most 200 characters."""
    return (0 < len(text) <= 200 and text not in (".", "..") and not text.startswith("-")
            and "/" not in text and all(ord(c) >= 32 for c in text))

TRANSITIONS: dict[MachineState, frozenset[MachineState]] = {
    S.PREPARING: frozenset({S.BOOTING, S.DESTROYING, S.FAILED}),
    S.BOOTING: frozenset({S.RUNNING, S.DESTROYING, S.FAILED}),
    S.RUNNING: frozenset({S.DRAINING, S.DESTROYING, S.FAILED}),
    S.DRAINING: frozenset({S.DESTROYING, S.FAILED}),
    S.DESTROYING: frozenset({S.DESTROYED, S.FAILED}),
    S.FAILED: frozenset({S.DESTROYING, S.DESTROYED}),
    S.DESTROYED: frozenset(),
}

#: States counted as the fleet's size by the seed ("total").
PROVISIONED = frozenset({S.PREPARING, S.BOOTING, S.RUNNING})
#: States in which a machine is not ready yet.
STARTING = frozenset({S.PREPARING, S.BOOTING})


def check_transition(machine_id: str, current: MachineState, requested: MachineState) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> requested`` is legal."""
    allowed = TRANSITIONS[current]
    if requested not in allowed:
        raise IllegalTransition(
            machine_id, current.value, requested.value, sorted(s.value for s in allowed)
        )


class NotClaimable(ImgprocError):
    """A deployer claimed a machine that is no longer preparing, or that another owns."""

    def __init__(self, machine_id: str, state: str, owner: str | None, claimant: str) -> None:
        self.machine_id = machine_id
        self.state = state
        self.owner = owner
        self.claimant = claimant
        held = "its own" if owner == claimant else f"owned by {owner or 'nobody'}"
        super().__init__(f"machine {machine_id}: {claimant} cannot claim it: it is {state}, "
                         f"{held} (only a preparing machine nobody else owns can be claimed)")


@dataclass(frozen=True)
class Machine:
    """A worker machine as the registry records it."""

    id: str
    state: MachineState
    requested_at: float
    state_since: float
    address: str | None = None
    current_job: str | None = None
    jobs_done: int = 0
    reason: str | None = None
    details: dict = field(default_factory=dict)
    owner: str | None = None  # the deployer that provisions it; None until one claims it

    @property
    def busy(self) -> bool:
        return self.current_job is not None

    def moved_to(self, state: MachineState, at: float, reason: str | None = None) -> Machine:
        """A copy in ``state`` (with ``reason`` for being there, if any); raises
        :class:`IllegalTransition` if the move is not allowed."""
        check_transition(self.id, self.state, state)
        return replace(self, state=state, state_since=at, reason=reason)

    def claimed_by(self, owner: str) -> Machine:
        """A copy owned by ``owner``; raises :class:`NotClaimable` unless this machine is
        still preparing and unowned (or already ``owner``'s: a claim may be repeated)."""
        if self.state is not S.PREPARING or self.owner not in (None, owner):
            raise NotClaimable(self.id, self.state.value, self.owner, owner)
        return replace(self, owner=owner)
