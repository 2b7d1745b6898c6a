"""The real clock: wall time in seconds since the Unix epoch, and a sleep that
can be cut short when the process is asked to stop."""

from __future__ import annotations

import threading
import time


class SystemClock:
    """Implements the core's ``Clock`` with ``time.time``; ``sleep`` ends early on ``stop``."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.stop = stop or threading.Event()

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.stop.wait(seconds)


class ScaledSleep:
    """A sleep for simulated work, of trace seconds at ``speed`` trace seconds per wall
    second; unlike the clock's, it is never cut short, so a draining worker finishes the
    job it holds."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed

    def __call__(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)
