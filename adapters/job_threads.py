"""A worker's jobs, on a thread of their own.

A job runs off the thread that owns the broker connection, so that thread can keep
sending heartbeats. One long-lived daemon thread runs the jobs one after another
(starting a thread per job cost a tenth of a zero-work job's CPU). When a job is
abandoned past the maximum job time, its thread stays on it until it ends by itself; the
next job must not queue behind it, so it gets a new thread, and the old one ends after
its job. Daemon threads never hold up the process's exit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

Task = tuple[Future, Callable[[], Any]] | None  # None: the thread's work is over


class JobThread(Executor):
    """Runs submitted calls one at a time on a daemon thread named after ``name``; a call
    submitted while the previous one still runs (it was abandoned) gets a new thread."""

    def __init__(self, name: str = "job") -> None:
        self._name = name
        self._threads = 0
        self._tasks: queue.SimpleQueue[Task] | None = None
        self._last: Future | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._tasks is None or (self._last is not None and not self._last.done()):
            self._start_thread()
        assert self._tasks is not None
        future: Future = Future()
        self._last = future
        self._tasks.put((future, lambda: fn(*args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._tasks is not None:
            self._tasks.put(None)
            self._tasks = None

    def _start_thread(self) -> None:
        if self._tasks is not None:
            self._tasks.put(None)  # the abandoned job's thread ends after it
        self._tasks = queue.SimpleQueue()
        self._threads += 1
        threading.Thread(target=_serve, args=(self._tasks,), daemon=True,
                         name=f"{self._name}-{self._threads}").start()


def _serve(tasks: queue.SimpleQueue[Task]) -> None:
    while (task := tasks.get()) is not None:
        future, call = task
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the future
            future.set_exception(exc)
