"""A worker whose registry cannot be written (ZooKeeper kept dropping the connection) keeps
serving: its progress is logged as not recorded, and the next write brings the record up
to date."""

from __future__ import annotations

from imgproc.adapters.memory.registry import MemoryMachineRegistry
from imgproc.adapters.zk.client import RegistryUnavailable
from imgproc.core.clock import ManualClock
from imgproc.core.machines import Machine
from imgproc.live.worker import RegistryProgress, come_up


class UnreachableWhileDown(MemoryMachineRegistry):
    """A registry that raises what the ZooKeeper one raises, while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def get(self, machine_id: str) -> Machine:
        self._check(f"read machine {machine_id}")
        return super().get(machine_id)

    def update(self, machine_id: str, **fields: object) -> Machine:
        self._check(f"update machine {machine_id}")
        return super().update(machine_id, **fields)

    def _check(self, action: str) -> None:
        if self.down:
            raise RegistryUnavailable(action, "ConnectionLoss")


def test_progress_that_cannot_be_recorded_is_recorded_by_the_next_write():
    registry, clock = UnreachableWhileDown(), ManualClock(10.0)
    come_up(registry, "w1", clock.now(), "10.0.0.7")
    progress = RegistryProgress(registry, "w1", clock)

    registry.down = True
    progress.job_started("j1")
    progress.job_finished("j1", ok=True)
    progress.idle()
    progress.job_started("j2")
    progress.job_finished("j2", ok=True)
    registry.down = False
    progress.idle()

    record = registry.get("w1")
    assert (record.current_job, record.jobs_done) == (None, 2)


def test_a_busy_record_that_could_not_be_cleared_is_cleared_at_the_next_idle_poll():
    registry, clock = UnreachableWhileDown(), ManualClock(10.0)
    come_up(registry, "w1", clock.now(), "10.0.0.7")
    progress = RegistryProgress(registry, "w1", clock)
    progress.job_started("j1")
    progress.job_finished("j1", ok=True)
    assert registry.get("w1").current_job == "j1"

    registry.down = True
    progress.idle()
    registry.down = False
    progress.idle()

    record = registry.get("w1")
    assert (record.current_job, record.jobs_done) == (None, 1)
