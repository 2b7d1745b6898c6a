"""Turning SIGTERM, SIGINT and SIGHUP into a stop event, so every loop ends cleanly; and
stopping a child process whose parent is gone (a replay killed with SIGKILL cannot stop
its deployer and scaler itself)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PARENT_CHECK_S = 0.5


def stop_on_signals(stop: threading.Event) -> Callable[[], signal.Signals | None]:
    """Set ``stop`` on SIGTERM, SIGINT or SIGHUP (the current job, round or command
    finishes first); returns what tells which of them came first (None before any)."""
    caught: list[signal.Signals] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        caught.append(signal.Signals(signum))
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)
    return lambda: caught[0] if caught else None


@contextmanager
def stopped_by_signals(stop: threading.Event) -> Iterator[Callable[[], signal.Signals | None]]:
    """:func:`stop_on_signals` for the block only: the previous handlers come back after."""
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        yield stop_on_signals(stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_with_parent(stop: threading.Event, check_s: float = PARENT_CHECK_S) -> None:
    """Set ``stop`` once this process's parent has ended (it is then re-parented), checked
    every ``check_s`` on a daemon thread."""
    parent = os.getppid()

    def watch() -> None:
        while not stop.wait(check_s):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
