"""The live scaler decides on a fixed schedule, as the simulator's does, each round stamped
with its time on it: a policy's windows and cooldowns are whole numbers of intervals, and a
round a few milliseconds late (tenths of a trace second at speed 10) once released booting
machines that the simulator kept, the window having just passed."""

from __future__ import annotations

import threading

from imgproc.adapters.memory.registry import MemoryConfigStore, MemoryScalerStatus
from imgproc.core.clock import ManualClock
from imgproc.core.observation import Decision, Observation
from imgproc.core.scaler import RoundReport, Scaler, ScalerLimits
from imgproc.live.scaler import LiveScaler, next_round
from imgproc.settings import Settings


def test_the_next_round_is_one_interval_after_the_last_ones_time_on_the_schedule():
    assert next_round(due=30.0, interval_s=10.0, now=30.4) == 40.0
    assert next_round(due=30.0, interval_s=10.0, now=39.9) == 40.0


def test_a_round_later_than_an_interval_starts_the_schedule_anew_from_now():
    assert next_round(due=30.0, interval_s=10.0, now=57.0) == 57.0


class LateClock(ManualClock):
    """Every reading is 0.3 s later than the last: each round takes that long."""

    def now(self) -> float:
        self.advance(0.3)
        return super().now()


class Seen:
    name = "seen"

    def __init__(self) -> None:
        self.times: list[float] = []

    def decide(self, obs: Observation) -> Decision:
        self.times.append(obs.now)
        return Decision.hold(obs, "watching")


class Election:
    """Leads for ``rounds`` rounds; its wait advances the clock."""

    def __init__(self, clock: ManualClock, rounds: int) -> None:
        self.clock = clock
        self.left = rounds

    def should_stop(self) -> bool:
        return self.left <= 0

    def wait_stop(self, timeout_s: float) -> bool:
        self.left -= 1
        self.clock.advance(timeout_s)
        return False


class Quiet:
    """An empty world: no queue, no machine."""

    def stats(self):
        from imgproc.core.observation import QueueStats

        return QueueStats(ready=0, in_flight=0, published=0, completed=0, service_s_total=0.0,
                          response_s_total=0.0)

    def machines(self):
        return []

    def request_machine(self) -> str:
        raise AssertionError("nothing to ask for")

    def release_machine(self, machine_id: str) -> None:
        raise AssertionError("nothing to release")


def test_each_round_is_stamped_with_its_time_on_the_schedule_however_late_it_runs():
    clock = LateClock()
    policy = Seen()
    world = Quiet()
    settings = Settings(_env_file=None, policy="constantsize", scaler={"interval_s": 10.0,
                                                                         "min_workers": 0})
    scaler = Scaler(policy, world, world, world, clock, ScalerLimits(interval_s=10.0,
                                                                     min_workers=0))
    live = LiveScaler(settings, "s1", scaler, MemoryConfigStore(), MemoryScalerStatus(), clock)
    live._apply = lambda config: None  # keeps the policy above (the config is not tested)

    live.lead(Election(clock, rounds=4), threading.Event())

    start = policy.times[0]
    assert [t - start for t in policy.times] == [0.0, 10.0, 20.0, 30.0]
    assert clock.now() > start + 30.5  # each round really ran late
    assert isinstance(scaler.run_once(now=99.0), RoundReport) and policy.times[-1] == 99.0
