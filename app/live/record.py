"""Turning what a live run left behind (results, machine records, state reports)
into the same :class:`RunRecord` the simulator produces, in the run's own clock; and
the claim a running replay leaves in the provider's state directory, by which the next
replay tells what a dead run left (its process gone) from a running fleet."""

from __future__ import annotations

import json
import math
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import psutil

from imgproc.core.errors import ImgprocError
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import StateReport
from imgproc.core.metrics.record import JobOutcomes, MachineSpan
from imgproc.core.results import ResultTally
from imgproc.core.trace import Trace


def job_outcomes(trace: Trace, tally: ResultTally, prefix: str, t0: float) -> JobOutcomes:
    """Each job's times since ``t0``, on the clock the run played on (the trace's)."""
    n = len(trace)
    submit = trace.arrival_s.copy()
    start = np.full(n, math.nan)
    end = np.full(n, math.nan)
    failed = np.zeros(n, dtype=bool)
    for i, job_id in enumerate(trace.ids):
        result = tally.results.get(prefix + job_id)
        if result is None:
            continue
        submit[i] = result.submitted_at - t0
        start[i] = result.started_at - t0
        end[i] = result.finished_at - t0
        failed[i] = result.status == "failed"
    return JobOutcomes(submit, start, end, trace.service_s.copy(), failed, tally.duplicates)


def machine_spans(machines: list[Machine], t0: float) -> list[MachineSpan]:
    spans = []
    for m in machines:
        ready = m.details.get("ready_at")
        gone = m.state is MachineState.DESTROYED
        spans.append(MachineSpan(
            id=m.id, requested_at=m.requested_at - t0,
            ready_at=None if ready is None else float(ready) - t0,
            released_at=m.state_since - t0 if gone else None,
            failed=bool(m.reason),
        ))
    return spans


def scaling_actions(machines: list[Machine], reports: list[StateReport], until: float,
                    interval_s: float) -> int:
    """Rounds that changed the fleet: the rounds in which machines were asked for, plus
    those in which releases began (before the final teardown). A round's commands go out
    within milliseconds, rounds an interval apart: times closer than half an interval are
    one round's (whole seconds would split a round at speed 10, where its milliseconds are
    tenths of a trace second)."""
    release_began: dict[str, float] = {}
    for r in reports:
        if r.state in ("draining", "destroying"):
            release_began[r.machine_id] = min(r.at, release_began.get(r.machine_id, math.inf))
    ups = [m.requested_at for m in machines]
    downs = [at for at in release_began.values() if at < until]
    return rounds_among(ups, interval_s / 2) + rounds_among(downs, interval_s / 2)


def rounds_among(times: list[float], gap_s: float) -> int:
    """Groups of ``times`` whose neighbours are closer than ``gap_s``."""
    ordered = sorted(times)
    return sum(1 for i, t in enumerate(ordered) if i == 0 or t - ordered[i - 1] >= gap_s)


class ClaimError(ImgprocError):
    """A replay's claim cannot be written or removed."""


@dataclass(frozen=True)
class RunClaim:
    """Which process runs a replay on a fleet (ZooKeeper hosts and root: ``scope``), since
    when on the replay's clock; ``alive`` is read when the claim is: whether that process
    still runs (a claim made on another host cannot be checked, and counts as alive)."""

    run_id: str
    scope: str
    host: str
    pid: int
    pid_started: float  # the process's start: a pid used again is not the owner
    started_at: float
    alive: bool = field(default=True, compare=False)


class ClaimFiles:
    """Claims as ``<directory>/<run id>.json``: the provider's state directory, where the
    deployer that destroys a run's machines finds them too."""

    def __init__(self, directory: Path, scope: str) -> None:
        self.directory = directory
        self.scope = scope
        self.host = socket.gethostname()

    def claim(self, run_id: str, started_at: float) -> None:
        """Record this process as the one running ``run_id``."""
        me = psutil.Process()
        record = asdict(RunClaim(run_id, self.scope, self.host, me.pid, me.create_time(),
                                 started_at))
        del record["alive"]
        path = self.directory / f"{run_id}.json"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path.with_suffix(".tmp").write_text(json.dumps(record))
            os.replace(path.with_suffix(".tmp"), path)
        except OSError as exc:
            raise ClaimError(f"cannot record replay {run_id} in {self.directory}: {exc}") from exc

    def others(self, run_id: str) -> list[RunClaim]:
        """Every claim on this scope but ``run_id``'s."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            claim = self._read(path)
            if claim is not None and claim.scope == self.scope and claim.run_id != run_id:
                found.append(claim)
        return found

    def release(self, run_id: str) -> None:
        try:
            (self.directory / f"{run_id}.json").unlink(missing_ok=True)
        except OSError as exc:
            raise ClaimError(f"cannot remove the claim of replay {run_id}: {exc}") from exc

    def _read(self, path: Path) -> RunClaim | None:
        """The claim in ``path``; None for a file that is not one (it is left alone)."""
        try:
            claim = RunClaim(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        return RunClaim(**{**asdict(claim), "alive": self._alive(claim)})

    def _alive(self, claim: RunClaim) -> bool:
        if claim.host != self.host:
            return True
        try:
            owner = psutil.Process(claim.pid)
            return (owner.status() != psutil.STATUS_ZOMBIE
                    and abs(owner.create_time() - claim.pid_started) < 1.0)
        except psutil.NoSuchProcess:  # a zombie's too
            return False
        except psutil.Error:  # cannot be looked at: someone's, alive
            return True


class NoClaims:
    """Claims of replays whose every part lives in their own process (on in-memory
    adapters): nothing outlives them, so nothing is claimed or found."""

    def claim(self, run_id: str, started_at: float) -> None:
        """Nothing to record."""

    def others(self, run_id: str) -> list[RunClaim]:
        return []

    def release(self, run_id: str) -> None:
        """Nothing recorded."""
