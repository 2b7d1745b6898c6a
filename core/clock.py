"""Injected time.

Core code never reads the wall clock: it is handed a :class:`Clock`. Live
components get a system clock from the adapters; the simulator and the tests
use :class:`ManualClock`, which only moves when told to.
"""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """A source of time in seconds and a way to wait."""

    def now(self) -> float:
        """Seconds since an arbitrary, fixed origin."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class ManualClock:
    """A clock that stands still until advanced; ``sleep`` advances it."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards by {seconds} s")
        self._now += seconds

    def set(self, now: float) -> None:
        if now < self._now:
            raise ValueError(f"cannot move a clock back from {self._now} to {now}")
        self._now = now
