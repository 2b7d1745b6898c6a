"""What the live-system rigs (``tests/integration``'s ``LiveRig``, ``tests/cluster``'s
``ClusterRig``) share: waiting and checking that fail with a dump of what the system said,
and adding that dump to the report of a failure that did not show it yet."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import polling
import pytest

T = TypeVar("T")


class DumpingRig:
    """A rig that can :meth:`dump` what its system said; failures show that once."""

    dumped = False  # a failure message already holds dump()

    def dump(self) -> str:
        raise NotImplementedError

    def wait_for(self, probe: Callable[[], T], what: str | Callable[[], str],
                 timeout_s: float = 30.0, poll_s: float = 0.1) -> T:
        """Poll ``probe`` until it returns something truthy; fail with a dump after ``timeout_s``
        (``what`` says what was awaited; a callable is asked only then)."""
        __tracebackhide__ = True
        return polling.wait_for(probe, what, timeout_s, poll_s, details=self._dump_once)

    def _dump_once(self) -> str:
        """:meth:`dump`, for a failure message: the test's report then adds no second one."""
        self.dumped = True
        return self.dump()

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.dumped = True
            pytest.fail(f"{message}\n{self.dump()}", pytrace=False)


def add_dump(item: pytest.Item, report: pytest.TestReport, title: str) -> None:
    """To a failed test's report, the dump of its ``rig`` if no failure message held it."""
    rig = getattr(item, "funcargs", {}).get("rig")
    if not report.failed or not isinstance(rig, DumpingRig) or rig.dumped:
        return
    try:
        report.sections.append((title, rig.dump()))
    except Exception as exc:  # noqa: BLE001 - the failure itself matters more
        report.sections.append((title, f"cannot dump: {exc}"))
