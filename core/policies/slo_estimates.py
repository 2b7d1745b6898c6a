"""What the ``slo`` policy learns from its observations: rates, variability, onsets.

Three small estimators, each fed one observation per round:

- :class:`Variability` estimates the squared coefficients of variation of the
  inter-arrival times (``ca²``) and of the service times (``cs²``) from the
  rounds' counts and means. A Poisson stream has ``ca² = 1``, the seed's one job
  every 0.2 s has 0; exponential service has ``cs² = 1``. Differences of
  consecutive rounds (the Allan variance) are used rather than the spread
  around the window's mean, so that a trend in the rate (a diurnal swing) is
  not taken for burstiness; a step is, for a window's length, which errs on
  the side of more workers.
- :class:`Onsets` remembers when the load stepped up (at least doubled against
  the rounds of the last ``quiet_s``) and, once three such steps are evenly
  spaced, predicts the next one: a periodic load (on-off, a cron job, a daily
  peak) is met with workers that were asked for a boot delay before it, as the
  oracle does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import pairwise

#: Rounds before the variability estimates are trusted; until then M/M/c's 1.
MIN_SAMPLES = 6
#: A period is trusted when the last two onsets' spacing differs by at most this share.
PERIOD_TOLERANCE = 0.15


class Variability:
    """``ca²`` and ``cs²`` over the last ``window`` rounds (1 each until learned)."""

    def __init__(self, window: int) -> None:
        self._rounds: deque[tuple[float, float | None, int]] = deque(maxlen=window)

    def add(self, arrivals: float, mean_service_s: float | None, completed: int) -> None:
        self._rounds.append((arrivals, mean_service_s, completed))

    def arrivals_scv(self) -> float:
        """Index of dispersion of the rounds' arrival counts: Var/mean, ``ca²`` for a
        renewal stream counted over windows much longer than its gaps."""
        counts = [a for a, _, _ in self._rounds]
        if len(counts) < MIN_SAMPLES or sum(counts) <= 0:
            return 1.0
        diffs = [(b - a) ** 2 / 2 for a, b in pairwise(counts)]
        return (sum(diffs) / len(diffs)) / (sum(counts) / len(counts))

    def service_scv(self) -> float:
        """Var(S)/E(S)², from rounds' means: a mean of n jobs varies as Var(S)/n."""
        pairs = [(m, n) for _, m, n in self._rounds if m is not None and n > 0]
        if len(pairs) < MIN_SAMPLES:
            return 1.0
        mean = sum(m * n for m, n in pairs) / sum(n for _, n in pairs)
        terms = [(b - a) ** 2 / (1 / na + 1 / nb) for (a, na), (b, nb) in pairwise(pairs)]
        return (sum(terms) / len(terms) / 2) / mean**2 if mean > 0 else 1.0


@dataclass(frozen=True)
class Onset:
    """A step up of the load: when it was seen and the workers it came to need."""

    at: float
    needed: int


class Onsets:
    """Steps up of the arrival rate, and the next one when they are periodic."""

    def __init__(self, quiet_s: float) -> None:
        self.quiet_s = quiet_s
        self._recent: deque[tuple[float, float]] = deque()
        self._onsets: deque[Onset] = deque(maxlen=3)

    def add(self, now: float, rate: float, target: int) -> None:
        """Record this round's rate sample and the target it led to: an onset when the
        rate at least doubles against the samples of the last ``quiet_s`` (the last
        sample when none is that recent); the onset's need grows for ``quiet_s``."""
        while len(self._recent) > 1 and self._recent[0][0] < now - self.quiet_s:
            self._recent.popleft()
        before = max((r for _, r in self._recent), default=None)
        self._recent.append((now, rate))
        if before is not None and rate > 0 and rate >= 2 * before + 1 / self.quiet_s:
            self._onsets.append(Onset(now, target))
        elif self._onsets and now - self._onsets[-1].at <= self.quiet_s:
            last = self._onsets[-1]
            self._onsets[-1] = Onset(last.at, max(last.needed, target))

    def period(self) -> float | None:
        """The spacing of the last three onsets, when its two gaps agree."""
        times = [o.at for o in self._onsets]
        if len(times) < 3:
            return None
        first, second = times[1] - times[0], times[2] - times[1]
        return second if abs(second - first) <= PERIOD_TOLERANCE * first else None

    def expected(self, now: float, lead_s: float) -> int:
        """Workers to have ready for the next onset, if it is due within ``lead_s``."""
        period = self.period()
        if period is None:
            return 0
        last = self._onsets[-1]
        due = last.at + period
        if due - lead_s <= now <= due + self.quiet_s:
            return last.needed
        return 0
