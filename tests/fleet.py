"""A running fleet for the fault tests, on one machine's services or on the cluster: a
deployer and a constantsize scaler as child processes, the test in the role of an
application that publishes jobs and counts results by job id
(:class:`~imgproc.core.results.ResultTally`).

The rig is ``tests/integration``'s ``LiveRig`` or ``tests/cluster``'s ``ClusterRig``; the
fleet needs only what both have (:class:`Rig`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import psutil
from kazoo.client import KazooClient

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import RabbitJobPublisher, RabbitResultFeed
from imgproc.core.messages import JobMessage
from imgproc.core.results import ResultTally

SERVICE_S = 0.5


def owners(client: KazooClient, parent: str) -> dict[str, int]:
    """The ephemeral children of ``parent``, each with the session that owns it."""
    found = {}
    for child in client.get_children(parent) if client.exists(parent) else []:
        stat = client.exists(f"{parent}/{child}")
        if stat is not None:
            found[child] = stat.ephemeralOwner
    return found


class Rig(Protocol):
    def worker_processes(self) -> list[psutil.Process]: ...

    def wait_for(self, probe: Callable[[], Any], what: str | Callable[[], str],
                 timeout_s: float) -> Any: ...

    def check(self, condition: bool, message: str) -> None: ...

    def destroy_all(self, timeout_s: float = 40.0) -> None: ...


@dataclass
class Fleet:
    """The processes of one run, and the test's own publisher and durable result feed."""

    rig: Rig
    deployer: ManagedProcess
    scaler: ManagedProcess
    publisher: RabbitJobPublisher
    feed: RabbitResultFeed
    service_s: float = SERVICE_S
    tally: ResultTally = field(default_factory=ResultTally)

    def pids(self) -> dict[str, int | None]:
        """Running deployer, scaler and worker processes' ids, by name (None: not running)."""
        found = {name: proc.pid if proc.running else None
                 for name, proc in (("deployer", self.deployer), ("scaler", self.scaler))}
        for proc in self.rig.worker_processes():
            cmdline = proc.cmdline()
            found[f"worker {cmdline[cmdline.index('--machine-id') + 1]}"] = proc.pid
        return found

    def submit(self, prefix: str, count: int, service_s: float | None = None) -> list[str]:
        ids = [f"{prefix}-{i}" for i in range(count)]
        for job_id in ids:
            self.publisher.publish(JobMessage(
                job_id=job_id, submitted_at=time.time(),
                service_s=self.service_s if service_s is None else service_s))
        return ids

    def wait_for_results(self, jobs: list[str], timeout_s: float) -> float:
        """Until every job in ``jobs`` has a result; returns when the last came."""
        def all_done() -> bool:
            for result in self.feed.poll_results(0.2):
                self.tally.add(result)
            return set(jobs) <= set(self.tally.results)

        self.rig.wait_for(all_done, lambda: f"results of {len(jobs)} jobs, missing "
                          f"{sorted(set(jobs) - set(self.tally.results))}", timeout_s)
        return time.time()

    def finish(self, pids: dict[str, int | None]) -> None:
        """The same processes as ``pids``; then everything stops cleanly, no worker left."""
        rig = self.rig
        rig.check(self.pids() == pids, f"the same processes should run: {pids}, "
                  f"now {self.pids()}")
        rig.check(self.scaler.stop(timeout_s=15) == 0, "the scaler should exit cleanly")
        rig.destroy_all()
        rig.check(self.deployer.stop() == 0, "the deployer should exit cleanly")
        rig.check(rig.worker_processes() == [], "no worker process may be left")
