"""Executors that run each task at once, on the caller's thread.

Live, the deployer hands commands to threads (a VM takes minutes to start) and a worker
runs each job on a thread of its own (its connection must stay alive meanwhile); on
in-memory adapters stepped by one clock, everything happens in the step.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class InlineExecutor(Executor):
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the future, as a pool thread does
            future.set_exception(exc)
        return future
