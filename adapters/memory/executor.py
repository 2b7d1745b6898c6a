"""An executor that runs each task at once, on the caller's thread.

The deployer hands commands to an executor (threads live, since a VM takes minutes to
start); on in-memory adapters, stepped by a clock, everything happens in the step."""

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
