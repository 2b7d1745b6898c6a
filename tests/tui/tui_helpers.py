"""Helpers for the console tests: a simulator backend on a repository trace, an app whose
refreshes the test drives on a manual clock, and waiting on conditions (never sleeps).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import polling
from rich.console import Console

from imgproc.bootstrap.console import build_sim_console
from imgproc.settings import Settings
from imgproc.tui.app import ConsoleApp

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = REPO / "workloads"
BURST = WORKLOADS / "burst.jsonl"
SIZE = (120, 40)


class StepClock:
    """A wall clock for the app that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(settings: Settings, seconds: float = 0.0, trace: Path = BURST,
             read_only: bool = False) -> ConsoleApp:
    """A console on the simulator, advanced ``seconds`` wall seconds (x20 virtual), refreshed
    only when the test says so (``step``)."""
    backend = build_sim_console(settings, trace)
    backend.tick(seconds)
    return ConsoleApp(backend, read_only=read_only, workloads=WORKLOADS, refresh_s=None,
                      clock=StepClock())


async def wait_for(pilot, predicate: Callable[[], bool], timeout_s: float = 5.0,
                   what: str = "") -> None:
    """Let the app run until ``predicate()`` holds; fail after ``timeout_s``
    (:func:`polling.wait_for_async`, pausing through the pilot)."""
    __tracebackhide__ = True
    await polling.wait_for_async(predicate, what or str(predicate), timeout_s, 0.01,
                                 sleep=pilot.pause)


async def step(pilot, seconds: float = 1.0, times: int = 1) -> None:
    """Refresh the console ``times`` times, ``seconds`` of wall clock apart."""
    app = pilot.app
    for _ in range(times):
        app.clock.advance(seconds)
        app.poll()
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: not app.polling, what="the refresh")
        await app.workers.wait_for_complete()
    await pilot.pause()


def status_text(app: ConsoleApp) -> str:
    from imgproc.tui.widgets.status import StatusBar

    return str(app.query_one(StatusBar).render())


def rendered(content, width: int = 120) -> str:
    """Plain text of a Rich renderable (or string), as a terminal ``width`` wide shows it."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(content)
    return console.file.getvalue()


def toasts(app: ConsoleApp) -> str:
    """The text of the notifications on screen."""
    return "\n".join(str(t.render()) for t in app.screen.query("Toast"))
