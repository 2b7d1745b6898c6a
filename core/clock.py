"""Injected time.

Core code never reads the wall clock: it is handed a :class:`Clock`. Live
components get a system clock from the adapters; the simulator and the tests
use :class:`ManualClock`, which only moves when told to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

from imgproc.core.errors import ConfigurationError

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


class ClockSettings(BaseModel):
    """The trace's clock, on which every live component runs: ``speed`` trace seconds per
    wall second, from ``origin_s`` (a wall time shared by every process of a run, so that
    their timestamps agree). Every other setting in seconds is in trace seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed: float = Field(default=1.0, gt=0, le=100, allow_inf_nan=False,
                         description="trace seconds per wall second")
    origin_s: float | None = Field(
        default=None, ge=0, allow_inf_nan=False,
        description="the wall time (Unix seconds) at which the trace clock reads the same "
                    "as the wall clock; a live replay sets it, and a speed needs it")

    def of_wall(self, wall_s: float) -> float:
        """A period of the machinery, not of the experiment (a check, a refresh, a retry),
        meant in wall seconds, in trace seconds: at any speed it loads the host alike."""
        return wall_s * self.speed


class TraceClock:
    """``base`` run ``speed`` times faster from ``origin``: a live run at ``--speed 10``
    is the same experiment as at 1, every time in it (boot delay, windows, cooldowns,
    timeouts, service times) in the trace's seconds."""

    def __init__(self, base: Clock, speed: float, origin: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.base = base
        self.speed = speed
        self.origin = origin

    def now(self) -> float:
        return self.origin + (self.base.now() - self.origin) * self.speed

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds / self.speed)


def on_trace_time(base: Clock, settings: ClockSettings) -> Clock:
    """``base`` itself at speed 1, else the trace clock over it; a speed without an origin
    is refused (each process would start its own trace clock, and their times disagree)."""
    if settings.speed == 1.0:
        return base
    if settings.origin_s is None:
        raise ConfigurationError(
            f"clock.speed {settings.speed:g} needs clock.origin_s, the wall time at which "
            f"every process of the run starts the trace's clock (a live replay sets it; "
            f"run the fleet's processes at speed 1 otherwise)")
    return TraceClock(base, settings.speed, settings.origin_s)


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
