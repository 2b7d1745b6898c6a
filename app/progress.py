"""Progress of a long run: a rich bar on a terminal, a short line every few seconds otherwise.

A simulated run reports every virtual second (200,000 times for a long trace); the bar
draws ten times a second, so it is told the news at most that often: telling it each
time took a second of a ten-second run.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class RunProgress:
    """Context manager that shows completed jobs out of the total."""

    def __init__(self, total: int, label: str, console: Console, line_every_s: float = 2.0,
                 wall_clock: Callable[[], float] = time.monotonic,
                 bar_every_s: float = 0.1) -> None:
        self.total = total
        self.label = label
        self.console = console
        self.line_every_s = line_every_s
        self.bar_every_s = bar_every_s
        self.wall_clock = wall_clock
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._last_line = 0.0
        self._last_bar = -math.inf

    def __enter__(self) -> RunProgress:
        if self.console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("jobs · t={task.fields[virtual]:.0f}s"), TimeElapsedColumn(),
                console=self.console, transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total, virtual=0.0)
        self._last_line = self.wall_clock()
        return self

    def update(self, completed: int, virtual_now: float) -> None:
        now = self.wall_clock()
        if self._bar is not None and self._task is not None:
            if now - self._last_bar >= self.bar_every_s:
                self._last_bar = now
                self._bar.update(self._task, completed=completed, virtual=virtual_now)
            return
        if now - self._last_line >= self.line_every_s:
            self._last_line = now
            print(f"{self.label}: {completed}/{self.total} jobs done, t={virtual_now:.0f}s",
                  file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
