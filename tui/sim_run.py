"""One trace replayed in the simulator at the console's pace, and what the console reads
from it: rates, recent response times and the lines of its scaler and "deployer".

The console advances virtual time in steps (one per refresh), so everything
here is incremental: each step looks only at what happened since the last one.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path

from imgproc.core.machines import Machine, MachineState
from imgproc.core.metrics.windows import RateWindow, ResponseWindow
from imgproc.core.sim.simulator import Simulation
from imgproc.tui.text import duration

LOG_LINES = 200


class RecentResponses:
    """Response times of the jobs finished in the last ``window_s`` virtual seconds.

    Jobs start in arrival order (one FIFO queue), so the started jobs are
    always a prefix of the trace: each step adds the newly started ones to a
    pending set (at most one per busy machine) and moves those that finished.
    """

    def __init__(self, sim: Simulation) -> None:
        self._sim = sim
        self._arrivals = sim.trace.arrival_s.tolist()
        self._next = 0
        self._pending: list[int] = []
        self.window = ResponseWindow()

    def collect(self) -> None:
        sim, end_s = self._sim, self._sim.end_s
        started = sim.next_arrival - len(sim.queue)
        pending = self._pending + list(range(self._next, started))
        self._next = max(self._next, started)
        still: list[int] = []
        for job in pending:
            end = end_s[job]
            if math.isnan(end):
                still.append(job)
            else:
                self.window.add(end, end - self._arrivals[job])
        self._pending = still

    def percentiles(self, now: float) -> tuple[float | None, float | None]:
        return self.window.percentiles(now)


class SimRun:
    """A simulation the console steps through; ``state`` is its replay state."""

    def __init__(self, sim: Simulation, path: Path) -> None:
        self.sim = sim
        self.path = path
        self.state = "running"
        self.now = 0.0
        self.responses = RecentResponses(sim)
        self.counts = RateWindow(kept=100_000)
        self._rows_counted = 0
        self._arrived = 0.0
        self._completed = 0.0
        self.scaler_lines: deque[str] = deque(maxlen=LOG_LINES)
        self.deployer_lines: deque[str] = deque(maxlen=LOG_LINES)
        self._rounds_seen = 0
        self._states: dict[str, MachineState] = {}

    @property
    def name(self) -> str:
        return self.sim.trace.name

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass, if running."""
        if self.state != "running" or seconds <= 0:
            return
        until = self.now + seconds
        if self.sim.advance(until):
            self.state, self.now = "done", self.sim.now
        else:
            # Every event up to ``until`` is processed and the next one is later, so the
            # simulation's clock may stand at ``until``: machines asked for now start now.
            self.now = self.sim.now = until
        self.responses.collect()
        self._count_rows()
        self._log_rounds()
        self.log_machines()

    def _count_rows(self) -> None:
        """The series' new rows (one per virtual second) as cumulative counts."""
        rows = self.sim.series.rows
        for i in range(self._rows_counted, len(rows["t"])):
            self._arrived += rows["arrivals"][i]
            self._completed += rows["completions"][i]
            self.counts.add(rows["t"][i], self._arrived, self._completed)
        self._rows_counted = len(rows["t"])

    def rates(self) -> tuple[float, float]:
        """Arrivals and completions per virtual second over the last seconds."""
        return self.counts.rates(self.now)

    def machines(self) -> list[Machine]:
        return self.sim.machines()

    def log_machines(self) -> None:
        """Note each machine's state change since the last step, as a deployer reports it."""
        current = {m.id: m.state for m in self.sim.fleet.values()}
        for machine_id, state in current.items():
            before = self._states.get(machine_id)
            if before is not state:
                was = before.value if before else "new"
                self.deployer_lines.append(f"{duration(self.now):>6} {machine_id} "
                                           f"{was} -> {state.value}")
        self._states = current

    def _log_rounds(self) -> None:
        rounds = self.sim.rounds
        for report in rounds[self._rounds_seen:]:
            if report.error:
                line = f"round skipped: {report.error}"
            elif report.decision is None:
                continue
            else:
                line = f"want {report.decision.desired}: {report.decision.reason}"
                if report.started:
                    line += f" (+{len(report.started)})"
                if report.released:
                    line += f" (-{len(report.released)})"
            self.scaler_lines.append(f"{duration(report.now):>6} {line}")
        self._rounds_seen = len(rounds)
