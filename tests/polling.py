"""Waiting, in a test, for something that happens in its own time (another thread, a child
process, a real service): the one place the tests poll.

- :func:`wait_for` polls a condition until it returns something truthy and returns that
  value, or fails the test naming what it waited for and the last value seen;
- :func:`wait_for_async` does the same inside an event loop (a Textual pilot passes its
  ``pause`` as ``sleep``, so that the app runs while the test waits);
- :func:`collect_until` gathers what a blocking poll returns, until there is enough or
  nothing more comes.

Tests import it as ``from polling import wait_for``: ``tests/conftest.py`` puts ``tests/``
on ``sys.path`` (pytest's default import mode, no ``__init__.py``), as ``tests/tui`` and
``tests/integration`` do for their own helpers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import NoReturn, TypeVar

import pytest

T = TypeVar("T")


def wait_for(condition: Callable[[], T], what: str | Callable[[], str],
             timeout_s: float = 5.0, interval_s: float = 0.01, *,
             details: Callable[[], str] | None = None,
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], object] = time.sleep) -> T:
    """Call ``condition`` every ``interval_s`` until it returns something truthy; return it.

    After ``timeout_s`` the test fails, saying ``what`` was awaited (a callable is asked only
    then) and the last value, followed by ``details()`` when given (a log, a screen).
    """
    __tracebackhide__ = True
    deadline = clock() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if clock() > deadline:
            _time_out(what, timeout_s, value, details)
        sleep(interval_s)


async def wait_for_async(condition: Callable[[], T], what: str | Callable[[], str],
                         timeout_s: float = 5.0, interval_s: float = 0.01, *,
                         details: Callable[[], str] | None = None,
                         clock: Callable[[], float] = time.monotonic,
                         sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> T:
    """:func:`wait_for` in an event loop: ``await sleep(interval_s)`` between the calls."""
    __tracebackhide__ = True
    deadline = clock() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if clock() > deadline:
            _time_out(what, timeout_s, value, details)
        await sleep(interval_s)


def collect_until(poll: Callable[[], Iterable[T]],
                  done: Callable[[list[T]], bool] = lambda got: False, *,
                  quiet_s: float = 0.0,
                  clock: Callable[[], float] = time.monotonic) -> list[T]:
    """Call ``poll`` (which waits a while for something to come) and gather what it returns,
    until ``done(gathered)`` holds or nothing came for ``quiet_s`` (0: until a poll returns
    nothing). Never fails: the test asserts on what was gathered."""
    got: list[T] = []
    last_came = clock()
    while not done(got):
        batch = list(poll())
        if batch:
            got.extend(batch)
            last_came = clock()
        elif clock() - last_came >= quiet_s:
            break
    return got


def _time_out(what: str | Callable[[], str], timeout_s: float, value: object,
              details: Callable[[], str] | None) -> NoReturn:
    __tracebackhide__ = True
    awaited = what() if callable(what) else what
    message = f"timed out after {timeout_s:g}s waiting for {awaited} (last value: {value!r})"
    if details is not None:
        message += "\n" + details()
    pytest.fail(message)
