"""A worker's jobs, each on a thread of its own.

A job runs off the thread that owns the broker connection, so that thread can keep
sending heartbeats. Each job gets a new daemon thread rather than a pool's: a job
abandoned past the maximum job time keeps its thread until it ends by itself, and the
next job must not queue behind it; a daemon thread never holds up the process's exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class ThreadPerJob(Executor):
    """Runs each submitted call on a new daemon thread named after ``name``."""

    def __init__(self, name: str = "job") -> None:
        self._name = name
        self._count = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()

        def run() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the future
                future.set_exception(exc)

        self._count += 1
        threading.Thread(target=run, name=f"{self._name}-{self._count}", daemon=True).start()
        return future
