"""A worker's progress written from a thread of its own: a write that ZooKeeper holds (out
of reach) never holds up the worker's thread, only the latest state goes out, and a failed
write is logged and caught up by the next."""

from __future__ import annotations

import threading
import time

from imgproc.adapters.memory.registry import MemoryMachineRegistry
from imgproc.core.errors import ImgprocError
from imgproc.core.machines import Machine, MachineState
from imgproc.live.worker import UpdatesInBackground


class HeldRegistry(MemoryMachineRegistry):
    """Each update waits until ``release`` is set (ZooKeeper away), and is remembered."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.updates: list[dict[str, object]] = []

    def update(self, machine_id: str, **fields: object) -> Machine:
        self.release.wait(10)
        self.updates.append(fields)
        return super().update(machine_id, **fields)


def a_registry(cls=HeldRegistry) -> HeldRegistry:
    registry = cls()
    registry.create(Machine("w1", MachineState.RUNNING, 0.0, 0.0))
    return registry


def test_a_held_write_never_holds_up_the_worker_and_the_latest_state_goes_out():
    registry = a_registry()
    writes = UpdatesInBackground(registry)
    started = time.monotonic()
    writes.update("w1", current_job="j1", jobs_done=0)
    time.sleep(0.2)  # the first write is now held by "ZooKeeper"
    writes.update("w1", current_job="j2", jobs_done=1)
    writes.update("w1", current_job=None, jobs_done=2)
    # a held write would keep it 10 s: anything well below means it went on at once
    assert time.monotonic() - started < 5.0, "the worker's thread went on at once"
    registry.release.set()
    writes.close()
    assert registry.updates[0]["current_job"] == "j1"
    assert registry.updates[-1] == {"current_job": None, "jobs_done": 2}
    assert len(registry.updates) == 2, "the states in between never piled up"
    assert registry.get("w1").jobs_done == 2


def test_a_failing_write_is_logged_and_the_next_one_still_goes_out(caplog):
    class FailsOnce(HeldRegistry):
        failed = False

        def update(self, machine_id: str, **fields: object) -> Machine:
            if not self.failed:
                self.failed = True
                raise ImgprocError("ZooKeeper said no")
            return super().update(machine_id, **fields)

    registry = a_registry(FailsOnce)
    registry.release.set()
    writes = UpdatesInBackground(registry)
    writes.update("w1", current_job="j1", jobs_done=0)
    time.sleep(0.2)
    writes.update("w1", current_job=None, jobs_done=1)
    writes.close()
    assert registry.get("w1").jobs_done == 1
    assert "progress of w1 not recorded" in caplog.text
