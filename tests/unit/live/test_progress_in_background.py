"""A worker's progress recorded from a thread of its own: a write that ZooKeeper holds (out
of reach) never holds up the worker's thread, and the writes go out in order."""

from __future__ import annotations

import threading
import time

from imgproc.live.worker import ProgressInBackground


class HeldListener:
    """Records the calls it gets; each waits until ``release`` is set (ZooKeeper away)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[tuple[str, ...]] = []

    def job_started(self, job_id: str) -> None:
        self.release.wait(10)
        self.calls.append(("started", job_id))

    def working(self, job_id: str) -> None:
        self.calls.append(("working", job_id))

    def job_finished(self, job_id: str, ok: bool) -> None:
        self.calls.append(("finished", job_id))

    def idle(self) -> None:
        self.calls.append(("idle",))


def test_a_held_write_never_holds_up_the_worker_and_all_go_out_in_order():
    held = HeldListener()
    progress = ProgressInBackground(held)
    started = time.monotonic()
    progress.job_started("j1")
    progress.working("j1")
    progress.job_finished("j1", ok=True)
    progress.idle()
    assert time.monotonic() - started < 0.5, "the worker's thread went on at once"
    assert held.calls == []
    held.release.set()
    progress.close()
    assert held.calls == [("started", "j1"), ("working", "j1"), ("finished", "j1"), ("idle",)]


def test_a_failing_write_is_logged_and_the_next_ones_still_go_out(caplog):
    class Failing(HeldListener):
        def job_started(self, job_id: str) -> None:
            raise RuntimeError("ZooKeeper said no")

    failing = Failing()
    progress = ProgressInBackground(failing)
    progress.job_started("j1")
    progress.idle()
    progress.close()
    assert failing.calls == [("idle",)]
    assert "recording a worker's progress failed" in caplog.text
