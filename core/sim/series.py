"""Collects the per-step time series of a run into columns."""

from __future__ import annotations

import numpy as np

from imgproc.core.machines import MachineState
from imgproc.core.metrics.record import SERIES_COLUMNS, TimeSeries


class SeriesRecorder:
    """Appends one row per sample; turns cumulative counts into per-step counts."""

    def __init__(self, step_s: float) -> None:
        self.step_s = step_s
        self.rows: dict[str, list[float]] = {name: [] for name in SERIES_COLUMNS}
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
        rows = self.rows
        if rows["t"] and rows["t"][-1] == now:
            return
        rows["t"].append(now)
        rows["ready"].append(ready)
        rows["in_flight"].append(in_flight)
        rows["arrivals"].append(published - self._last_published)
        rows["completions"].append(completed - self._last_completed)
        self._last_published, self._last_completed = published, completed
        for state in ("preparing", "booting", "running", "draining", "destroying"):
            rows[state].append(counts[MachineState(state)])

    def build(self) -> TimeSeries:
        columns = {k: np.asarray(v, dtype=float) for k, v in self.rows.items()}
        return TimeSeries(self.step_s, columns)
