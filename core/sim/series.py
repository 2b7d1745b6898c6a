"""Collects the per-step time series of a run into columns.

A long simulated run takes one sample a second (200,000 for a trace of 200,000 s), so
``sample`` is on the hot path: it appends to column lists bound once, and looks the
machine states up by their members, never by their names.
"""

from __future__ import annotations

import numpy as np

from imgproc.core.machines import MachineState
from imgproc.core.metrics.record import SERIES_COLUMNS, TimeSeries

S = MachineState
MACHINE_COLUMNS = (S.PREPARING, S.BOOTING, S.RUNNING, S.DRAINING, S.DESTROYING)
"""The machine states counted in the series, each in the column of its name."""


class SeriesRecorder:
    """Appends one row per sample; turns cumulative counts into per-step counts.

    ``rows`` holds a list per column (``SERIES_COLUMNS``), readable while the run goes on.
    """

    def __init__(self, step_s: float) -> None:
        self.step_s = step_s
        self.rows: dict[str, list[float]] = {name: [] for name in SERIES_COLUMNS}
        rows = self.rows
        self._t = rows["t"]
        self._queue = (rows["ready"], rows["in_flight"])
        self._flows = (rows["arrivals"], rows["completions"])
        self._machines = tuple((rows[state.value], state) for state in MACHINE_COLUMNS)
        self._last_published = 0
        self._last_completed = 0

    def sample(
        self,
        now: float,
        ready: int,
        in_flight: int,
        published: int,
        completed: int,
        counts: dict[MachineState, int],
    ) -> None:
        t = self._t
        if t and t[-1] == now:
            return
        t.append(now)
        self._queue[0].append(ready)
        self._queue[1].append(in_flight)
        self._flows[0].append(published - self._last_published)
        self._flows[1].append(completed - self._last_completed)
        self._last_published, self._last_completed = published, completed
        for column, state in self._machines:
            column.append(counts[state])

    def build(self) -> TimeSeries:
        columns = {k: np.asarray(v, dtype=float) for k, v in self.rows.items()}
        return TimeSeries(self.step_s, columns)
