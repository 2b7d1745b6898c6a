"""RabbitMQ out of reach in the middle of a live run: unreachable for 30 s (through a TCP
proxy the test cuts) and restarted (``rabbitmqctl stop_app``/``start_app``). The worker,
the deployer and the scaler are the same processes afterwards, and every job submitted
before, during and after the fault completes, checked by job id; a job whose result went
out just as the connection broke is done twice and counted once.

The children reach the broker through the proxy, with the default settings (the
long-running processes retry for as long as the broker is away); the test, in the role of
an application, publishes jobs and watches results on the broker directly.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest
from it_support import LiveRig, rabbitmqctl
from tcp_proxy import TcpProxy

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import RabbitJobPublisher, RabbitResultFeed
from imgproc.core.machines import MachineState
from imgproc.core.messages import JobMessage
from imgproc.core.results import ResultTally

pytestmark = pytest.mark.services
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

    def submit(self, prefix: str, count: int) -> list[str]:
        ids = [f"{prefix}-{i}" for i in range(count)]
        for job_id in ids:
            self.publisher.publish(JobMessage(job_id=job_id, submitted_at=time.time(),
                                              service_s=SERVICE_S))
        return ids

    def wait_for_results(self, jobs: list[str], timeout_s: float) -> None:
        def all_done() -> bool:
            for result in self.feed.poll_results(0.2):
                self.tally.add(result)
            return set(jobs) <= set(self.tally.results)

        self.rig.wait_for(all_done, lambda: f"results of {len(jobs)} jobs, missing "
                          f"{sorted(set(jobs) - set(self.tally.results))}", timeout_s)


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def start_fleet(rig: LiveRig, broker_url: str) -> Fleet:
    """A deployer and a constantsize scaler of ``SIZE`` workers on ``broker_url``."""
    def spawn(name: str, *args: str) -> ManagedProcess:
        env = rig.env()
        env["IMGPROC_RABBIT"] = json.dumps({"url": broker_url})  # the workers inherit it
        proc = ManagedProcess(name, list(args), env)
        rig.processes.append(proc)
        proc.start()
        return proc

    feed = rig.feed()
    deployer = spawn("deployer", "deployer")
    scaler = spawn("scaler", "scaler", "--policy", "constantsize", "--param", f"size={SIZE}",
                   "--interval", "0.5", "--identifier", f"it-{rig.run_id}")
    publisher = rig.keep(RabbitJobPublisher(rig.rabbit, role=f"test {rig.run_id}"))
    rig.wait_for(lambda: len(rig.machines(S.RUNNING)) == SIZE
                 and len(rig.worker_processes()) == SIZE, f"{SIZE} running workers", 40)
    return Fleet(rig, deployer, scaler, publisher, feed, ResultTally())


def finish(fleet: Fleet, before: dict[str, int | None]) -> None:
    rig = fleet.rig
    rig.check(fleet.pids() == before, f"the same processes should run: {before} then "
              f"{fleet.pids()}")
    rig.check(fleet.scaler.stop(timeout_s=15) == 0, "the scaler should exit cleanly")
    rig.destroy_all()
    rig.check(fleet.deployer.stop() == 0, "the deployer should exit cleanly")
    rig.check(rig.worker_processes() == [], "no worker process may be left")


def test_the_broker_unreachable_for_30_s_ends_no_component_and_loses_no_job(rig):
    with TcpProxy("127.0.0.1", urlsplit(rig.rabbit.urls[0]).port or 5672) as proxy:
        fleet = start_fleet(rig, through(rig.rabbit.url, proxy.port))
        jobs = fleet.submit("before", 6)
        time.sleep(0.3)  # some of them in the workers' hands when the cut comes
        before = fleet.pids()
        proxy.cut()
        jobs += fleet.submit("during", 6)
        time.sleep(30)
        for name, proc in (("deployer", fleet.deployer), ("scaler", fleet.scaler)):
            rig.check(proc.running, f"the {name} should survive the outage")
        proxy.restore()
        restored_at = time.time()
        jobs += fleet.submit("after", 4)
        fleet.wait_for_results(jobs, 60)
        print(f"every job done {time.time() - restored_at:.1f} s after the broker came back; "
              f"{fleet.tally.duplicates} duplicate(s)")
        assert set(fleet.tally.results) == set(jobs) and fleet.tally.failed == 0
        finish(fleet, before)


def test_the_broker_restarted_mid_run_ends_no_component_and_loses_no_job(rig):
    fleet = start_fleet(rig, rig.rabbit.url)
    jobs = fleet.submit("before", 6)
    time.sleep(0.3)
    before = fleet.pids()
    rabbitmqctl("stop_app")
    try:
        time.sleep(5)
    finally:
        rabbitmqctl("start_app")
        subprocess.run(["rabbitmq-diagnostics", "-q", "check_running"], check=False,
                       capture_output=True, timeout=60)
    restarted_at = time.time()
    jobs += fleet.submit("after", 6)
    fleet.wait_for_results(jobs, 60)
    print(f"every job done {time.time() - restarted_at:.1f} s after the restart; "
          f"{fleet.tally.duplicates} duplicate(s)")
    assert set(fleet.tally.results) == set(jobs) and fleet.tally.failed == 0
    finish(fleet, before)
