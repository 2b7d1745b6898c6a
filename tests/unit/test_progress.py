"""A long run's progress on a terminal: the bar hears of it at most every ``bar_every_s``."""

from __future__ import annotations

import io

from rich.console import Console

from imgproc.progress import RunProgress


class FakeWallClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def shown(progress: RunProgress) -> tuple[float, float]:
    """What the bar would draw: completed jobs and virtual time."""
    assert progress._bar is not None
    task = progress._bar.tasks[0]
    return task.completed, task.fields["virtual"]


def test_the_bar_takes_the_news_at_most_every_bar_interval_of_wall_time():
    clock = FakeWallClock()
    console = Console(file=io.StringIO(), force_terminal=True)
    with RunProgress(100, "t", console, wall_clock=clock, bar_every_s=0.5) as progress:
        progress.update(1, 1.0)
        assert shown(progress) == (1, 1.0)
        clock.now += 0.25
        progress.update(2, 2.0)
        assert shown(progress) == (1, 1.0)
        clock.now += 0.25
        progress.update(3, 3.0)
        assert shown(progress) == (3, 3.0)
