"""A running fleet for the fault tests: a deployer and a constantsize scaler as child
processes, the test in the role of an application that publishes jobs and counts results
by job id (:class:`~imgproc.core.results.ResultTally`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from it_support import LiveRig

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import RabbitJobPublisher, RabbitResultFeed
from imgproc.core.machines import MachineState
from imgproc.core.messages import JobMessage
from imgproc.core.results import ResultTally

S = MachineState
SIZE = 2
SERVICE_S = 0.5


@dataclass
class Fleet:
    rig: LiveRig
    deployer: ManagedProcess
    scaler: ManagedProcess
    publisher: RabbitJobPublisher
    feed: RabbitResultFeed
    tally: ResultTally

    def pids(self) -> dict[str, int | None]:
        found: dict[str, int | None] = {"deployer": self.deployer.pid, "scaler": self.scaler.pid}
        return found | {f"worker {self.rig.machine_of(p)}": p.pid
                        for p in self.rig.worker_processes()}

    def submit(self, prefix: str, count: int, service_s: float = SERVICE_S) -> list[str]:
        ids = [f"{prefix}-{i}" for i in range(count)]
        for job_id in ids:
            self.publisher.publish(JobMessage(job_id=job_id, submitted_at=time.time(),
                                              service_s=service_s))
        return ids

    def wait_for_results(self, jobs: list[str], timeout_s: float) -> None:
        def all_done() -> bool:
            for result in self.feed.poll_results(0.2):
                self.tally.add(result)
            return set(jobs) <= set(self.tally.results)

        self.rig.wait_for(all_done, lambda: f"results of {len(jobs)} jobs, missing "
                          f"{sorted(set(jobs) - set(self.tally.results))}", timeout_s)


def start_fleet(rig: LiveRig, broker_url: str | None = None, size: int = SIZE,
                **rabbit: object) -> Fleet:
    """A deployer and a constantsize scaler of ``size`` workers on ``broker_url`` (the rig's
    broker by default), with ``rabbit`` settings added; returns once all of them run."""
    def spawn(name: str, *args: str) -> ManagedProcess:
        env = rig.env()
        env["IMGPROC_RABBIT"] = json.dumps({"url": broker_url or rig.rabbit.url, **rabbit})
        proc = ManagedProcess(name, list(args), env)
        rig.processes.append(proc)
        proc.start()
        return proc

    settings = rig.rabbit.model_copy(update=rabbit)  # the test's clients declare the same
    feed = rig.keep(RabbitResultFeed(settings, f"{settings.results_exchange}.test-{rig.run_id}",
                                     durable=True))
    deployer = spawn("deployer", "deployer")
    scaler = spawn("scaler", "scaler", "--policy", "constantsize", "--param", f"size={size}",
                   "--interval", "0.5", "--identifier", f"it-{rig.run_id}")
    publisher = rig.keep(RabbitJobPublisher(settings, role=f"test {rig.run_id}"))
    rig.wait_for(lambda: len(rig.machines(S.RUNNING)) == size
                 and len(rig.worker_processes()) == size, f"{size} running workers", 40)
    return Fleet(rig, deployer, scaler, publisher, feed, ResultTally())


def finish(fleet: Fleet, before: dict[str, int | None]) -> None:
    rig = fleet.rig
    rig.check(fleet.pids() == before, f"the same processes should run: {before} then "
              f"{fleet.pids()}")
    rig.check(fleet.scaler.stop(timeout_s=15) == 0, "the scaler should exit cleanly")
    rig.destroy_all()
    rig.check(fleet.deployer.stop() == 0, "the deployer should exit cleanly")
    rig.check(rig.worker_processes() == [], "no worker process may be left")


