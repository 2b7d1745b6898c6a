"""The raw record of one run (live or simulated), from which metrics are computed.

Everything is in the run's own clock, in seconds from the start of the trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Columns of the per-second time series, in order.
SERIES_COLUMNS = (
    "t",
    "ready",
    "in_flight",
    "arrivals",
    "completions",
    "preparing",
    "booting",
    "running",
    "draining",
    "destroying",
)


@dataclass(frozen=True, slots=True)
class MachineSpan:
    """One machine's life: asked for, ready to serve (if ever), gone (if yet)."""

    id: str
    requested_at: float
    ready_at: float | None
    released_at: float | None
    failed: bool = False


@dataclass
class JobOutcomes:
    """Per-job times, aligned with the trace's job order.

    ``end_s`` is NaN for a job that never finished (lost); ``failed`` marks
    jobs that finished with an error. ``service_s`` is the time actually
    spent serving (for simulated jobs, the recorded service time).
    """

    submit_s: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    service_s: np.ndarray
    failed: np.ndarray
    duplicates: int = 0


@dataclass
class TimeSeries:
    """Samples taken every ``step_s`` seconds; column names in SERIES_COLUMNS.

    ``arrivals`` and ``completions`` count jobs in the step that ends at ``t``.
    """

    step_s: float
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["t"])

    def column(self, name: str) -> np.ndarray:
        return self.columns[name]


@dataclass
class RunRecord:
    """Everything measured in a run."""

    trace: str
    policy: str
    backend: str
    jobs: JobOutcomes
    machines: list[MachineSpan]
    series: TimeSeries
    scaling_actions: int
    duration_s: float
    params: dict = field(default_factory=dict)
