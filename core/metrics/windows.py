"""The console's moving windows: rates over the last seconds, and recent response times.

One implementation for both backends: the live console feeds them from results and
queue counts, the simulator's from its run, each on its own clock.
"""

from __future__ import annotations

from collections import deque

import numpy as np

RATE_WINDOW_S = 10.0
LATENCY_WINDOW_S = 60.0


class RateWindow:
    """Arrivals and completions per second over the last ``window_s``, from cumulative
    counts sampled now and then."""

    def __init__(self, window_s: float = RATE_WINDOW_S, kept: int = 600) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float, float]] = deque(maxlen=kept)

    def add(self, now: float, arrived: float, completed: float) -> None:
        self._samples.append((now, arrived, completed))

    def rates(self, now: float) -> tuple[float, float]:
        """Measured from the last sample taken before the window (or the oldest one) to the
        latest, so that samples farther apart than the window still give a rate."""
        samples = [s for s in self._samples if s[0] <= now]
        if len(samples) < 2:
            return 0.0, 0.0
        before = [s for s in samples if s[0] < now - self.window_s]
        first, last = (before[-1] if before else samples[0]), samples[-1]
        span = last[0] - first[0]
        if span <= 0:
            return 0.0, 0.0
        return (max(0.0, (last[1] - first[1]) / span), max(0.0, (last[2] - first[2]) / span))


class ResponseWindow:
    """Response times of the jobs finished in the last ``window_s``: their median and p95."""

    def __init__(self, window_s: float = LATENCY_WINDOW_S, kept: int = 200_000) -> None:
        self.window_s = window_s
        self._done: deque[tuple[float, float]] = deque(maxlen=kept)

    def add(self, finished_at: float, response_s: float) -> None:
        self._done.append((finished_at, response_s))

    def percentiles(self, now: float) -> tuple[float | None, float | None]:
        since = now - self.window_s
        done = self._done
        while done and done[0][0] < since - self.window_s:
            done.popleft()
        values = [r for end, r in done if end >= since]
        if not values:
            return None, None
        p50, p95 = np.percentile(values, [50, 95])
        return float(p50), float(p95)
