"""Injected time.

Core code never reads the wall clock: it is handed a :class:`Clock`. Live
components get a system clock from the adapters; the simulator and the tests
use :class:`ManualClock`, which only moves when told to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from threading import Event


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


class SteppedClock(ManualClock):
    """A manual clock that runs registered steps each time it is slept on.

    In-process stand-ins for the live system's processes (deployer, scaler, workers on
    in-memory adapters) register a step; whoever drives the run (a live replay) sleeps
    on this clock, and every sleep moves time and lets each component take one step. So a
    whole live run plays on one thread, in virtual time, the same every time.
    """

    def __init__(self, start: float = 0.0) -> None:
        super().__init__(start)
        self._steps: list[Callable[[], None]] = []

    def add_step(self, step: Callable[[], None]) -> None:
        self._steps.append(step)

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        for step in list(self._steps):
            step()


class Interruptible:
    """``clock``, whose sleep ends early once ``stop`` is set (checked every ``slice_s`` of
    the clock's time), so that a thread sleeping until its next job can be stopped."""

    def __init__(self, clock: Clock, stop: Event, slice_s: float = 0.1) -> None:
        self.clock = clock
        self.stop = stop
        self.slice_s = slice_s

    def now(self) -> float:
        return self.clock.now()

    def sleep(self, seconds: float) -> None:
        until = self.clock.now() + seconds
        while not self.stop.is_set() and (left := until - self.clock.now()) > 0:
            self.clock.sleep(min(left, self.slice_s))
