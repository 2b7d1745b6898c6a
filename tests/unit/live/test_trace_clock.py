"""Every component of a live run on the trace's clock: ``--speed 10`` runs it ten times
faster from one origin that the replay fixes for all its processes, so that every time
(boot delay, windows, timeouts, the summary's) is in trace seconds."""

from __future__ import annotations

import pytest

from imgproc.bootstrap.live import on_trace_clock_from_now
from imgproc.bootstrap.processes import child_environment, trace_clock
from imgproc.core.clock import ClockSettings, ManualClock, TraceClock, on_trace_time
from imgproc.core.errors import ConfigurationError
from imgproc.settings import Settings


def test_the_trace_clock_reads_the_wall_clock_from_its_origin_speed_times_faster():
    wall = ManualClock(1000.0)
    clock = TraceClock(wall, speed=10.0, origin=1000.0)

    assert clock.now() == 1000.0
    wall.advance(2.5)
    assert clock.now() == pytest.approx(1025.0)
    clock.sleep(30.0)  # thirty trace seconds are three wall seconds
    assert wall.now() == pytest.approx(1005.5)


def test_at_speed_one_the_clock_is_the_wall_clock_itself():
    wall = ManualClock(5.0)
    assert on_trace_time(wall, ClockSettings()) is wall


def test_a_period_of_the_machinery_is_as_many_wall_seconds_at_any_speed():
    assert ClockSettings(speed=10.0).of_wall(1.0) == 10.0
    assert ClockSettings().of_wall(1.0) == 1.0


def test_a_replay_fixes_the_origin_that_its_processes_share_through_their_environment():
    s = Settings(provider={"kind": "local"}, clock={"speed": 10.0})

    fixed = on_trace_clock_from_now(s)

    assert fixed.clock.speed == 10.0 and fixed.clock.origin_s is not None
    assert on_trace_clock_from_now(fixed) == fixed  # fixed once, for the whole run
    env = child_environment(fixed)
    assert f'"origin_s":{fixed.clock.origin_s}' in env["IMGPROC_CLOCK"].replace(" ", "")
    now = trace_clock(fixed).now()
    assert now == pytest.approx(fixed.clock.origin_s, abs=10.0)  # a second of wall time


def test_a_vm_replay_at_another_speed_is_refused_with_the_reason():
    s = Settings(provider={"kind": "vagrant"}, clock={"speed": 10.0})

    with pytest.raises(ConfigurationError, match="run on wall time"):
        on_trace_clock_from_now(s)
    assert on_trace_clock_from_now(Settings(provider={"kind": "vagrant"})).clock.speed == 1.0


def test_a_speed_out_of_range_is_a_settings_error():
    with pytest.raises(ValueError, match="speed"):
        ClockSettings(speed=0.0)
