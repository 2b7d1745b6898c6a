"""ZooKeeper out of reach in the middle of a live run, and sessions expired: the worker, the
deployer and the scaler wait and come back by themselves (same processes), the worker's
liveness node and the scaler's election node are there again, a scaler leads again, and
every job submitted before, during and after the fault completes.

The children reach ZooKeeper through a :class:`~tcp_proxy.TcpProxy` that the test cuts;
the test itself watches ZooKeeper directly. A session is expired by cutting the proxy for
longer than the session timeout: the children's session ids and passwords are not ours to
reuse (kazoo's own tests expire a session by closing a second client that shares them),
and a cut is what expires a session in production too.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from fleet import owners
from it_support import LiveRig
from tcp_proxy import TcpProxy

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import RabbitJobPublisher, RabbitResultFeed
from imgproc.adapters.zk.config import ZkScalerStatus
from imgproc.adapters.zk.layout import Layout
from imgproc.core.machines import PROVISIONED, MachineState
from imgproc.core.messages import JobMessage
from imgproc.core.results import ResultTally

pytestmark = pytest.mark.services
S = MachineState
SIZE = 2
INTERVAL_S = 0.5
SERVICE_S = 0.3
SHORT_SESSION_S = 4.0  # ZooKeeper's least (2 ticks of 2 s) as installed here


@dataclass
class Run:
    """The processes of one run, and what the test needs to talk to them."""

    rig: LiveRig
    proxy: TcpProxy
    deployer: ManagedProcess
    scaler: ManagedProcess
    publisher: RabbitJobPublisher
    feed: RabbitResultFeed

    def pids(self) -> dict[str, int | None]:
        """Running deployer, scaler and worker processes' ids, by name (None: not running)."""
        found = {name: proc.pid if proc.running else None
                 for name, proc in (("deployer", self.deployer), ("scaler", self.scaler))}
        found |= {f"worker {self.rig.machine_of(p)}": p.pid for p in self.rig.worker_processes()}
        return found

    def submit(self, prefix: str, count: int) -> list[str]:
        ids = [f"{prefix}-{i}" for i in range(count)]
        for job_id in ids:
            self.publisher.publish(JobMessage(job_id=job_id, submitted_at=time.time(),
                                              service_s=SERVICE_S))
        return ids


def start_run(rig: LiveRig, proxy: TcpProxy, session_timeout_s: float) -> Run:
    """A deployer and a scaler (constantsize, ``SIZE`` workers) reaching ZooKeeper through
    ``proxy``; returns once every worker runs and the scaler leads."""
    zk = json.dumps({"hosts": f"127.0.0.1:{proxy.port}", "root": rig.zk.root,
                     "session_timeout_s": session_timeout_s})

    def spawn(name: str, *args: str) -> ManagedProcess:
        env = rig.env()
        env["IMGPROC_ZK"] = zk  # the workers the deployer starts inherit it
        proc = ManagedProcess(name, list(args), env)
        rig.processes.append(proc)
        proc.start()
        return proc

    feed = rig.feed()
    deployer = spawn("deployer", "deployer")
    scaler = spawn("scaler", "scaler", "--policy", "constantsize", "--param", f"size={SIZE}",
                   "--interval", str(INTERVAL_S), "--identifier", f"it-{rig.run_id}")
    publisher = rig.keep(RabbitJobPublisher(rig.rabbit, role=f"test {rig.run_id}"))
    run = Run(rig, proxy, deployer, scaler, publisher, feed)
    rig.wait_for(lambda: len(live_workers(rig)) == SIZE and len(rig.worker_processes()) == SIZE,
                 f"{SIZE} running, announced workers", 40)
    rig.wait_for(lambda: contenders(rig), "the scaler to contend", 10)
    return run


def live_workers(rig: LiveRig) -> set[str]:
    """Running machines whose worker's liveness node exists."""
    running = {m.id for m in rig.machines(S.RUNNING)}
    return running & set(owners(rig.client, Layout(rig.zk.root).workers))


def contenders(rig: LiveRig) -> dict[str, int]:
    """The scaler election's nodes and the session owning each."""
    return owners(rig.client, Layout(rig.zk.root).scaler_election)


def wait_for_results(run: Run, jobs: list[str], timeout_s: float) -> ResultTally:
    tally = ResultTally()

    def all_done() -> bool:
        for result in run.feed.poll_results(0.2):
            tally.add(result)
        return tally.completed >= len(jobs)

    run.rig.wait_for(all_done, lambda: f"results of {len(jobs)} jobs, "
                       f"missing {sorted(set(jobs) - set(tally.results))}", timeout_s)
    return tally


def cut_for(run: Run, seconds: float, black_hole: bool = False) -> tuple[list[str], float]:
    """Cut ZooKeeper off for ``seconds``, submitting jobs meanwhile; check that every process
    is still there, restore; returns the jobs submitted and when ZooKeeper came back."""
    pids = run.pids()
    run.proxy.cut(black_hole=black_hole)
    time.sleep(1.0)
    jobs = run.submit("during", 6)
    time.sleep(seconds - 1.0)
    run.rig.check(run.pids() == pids, f"every process should outlive ZooKeeper's absence: "
                    f"{pids}, now {run.pids()}")
    run.proxy.restore()
    return jobs, time.time()


def wait_for_recovery(run: Run, since: float) -> float:
    """Every worker announced and a scaler leading again (its status written after
    ``since``); returns how long after ``since`` that was."""
    rig = run.rig
    status = ZkScalerStatus(rig.client, rig.zk.root)
    rig.wait_for(lambda: (s := status.read()) is not None and s.applied_at > since,
                 "the scaler to lead again", 30)
    rig.wait_for(lambda: len(live_workers(rig)) == SIZE, "every worker announced again", 30)
    return time.time() - since


def check_the_run(run: Run, pids: dict[str, int | None], jobs: list[str]) -> None:
    """The same processes as before the fault, one contender, the fleet still ``SIZE``,
    every job done once by its id; then everything stops cleanly."""
    rig = run.rig
    tally = wait_for_results(run, jobs, 40)
    assert set(tally.results) == set(jobs) and tally.failed == 0, tally.results
    rig.check(run.pids() == pids, f"the same processes should run: {pids}, now {run.pids()}")
    rig.check(len(contenders(rig)) == 1, f"one election node: {contenders(rig)}")
    fleet_now = [m.id for m in rig.machines() if m.state in PROVISIONED]
    rig.check(len(fleet_now) == SIZE, f"the scaler should not have grown the fleet: {fleet_now}")
    rig.check(run.scaler.stop(timeout_s=15) == 0, "the scaler should exit cleanly")
    rig.destroy_all()
    rig.check(run.deployer.stop() == 0, "the deployer should exit cleanly")
    rig.check(rig.worker_processes() == [], "no worker process may be left")


def test_zookeeper_out_of_reach_for_15_s_ends_no_process_and_loses_no_job(rig):
    with TcpProxy("127.0.0.1", zk_port(rig)) as proxy:
        run = start_run(rig, proxy, session_timeout_s=30.0)  # sessions outlive the outage
        jobs = run.submit("before", 4)
        pids, workers = run.pids(), owners(rig.client, Layout(rig.zk.root).workers)
        scaler_session = set(contenders(rig).values())

        during, restored_at = cut_for(run, 15.0)
        jobs += during + run.submit("after", 4)
        recovered_s = wait_for_recovery(run, restored_at)

        print(f"\nZooKeeper back for {recovered_s:.1f} s: the scaler leads again")
        rig.check(owners(rig.client, Layout(rig.zk.root).workers) == workers,
                  "the workers' sessions (and nodes) should have outlived the outage")
        rig.check(set(contenders(rig).values()) == scaler_session,
                  "the scaler contends again in the same session")
        check_the_run(run, pids, jobs)


def test_expired_sessions_end_no_process_and_their_nodes_come_back(rig):
    with TcpProxy("127.0.0.1", zk_port(rig)) as proxy:
        run = start_run(rig, proxy, session_timeout_s=SHORT_SESSION_S)
        jobs = run.submit("before", 4)
        pids = run.pids()
        before = {**owners(rig.client, Layout(rig.zk.root).workers), **contenders(rig)}

        # Black-holed for 2.5 session timeouts: ZooKeeper expires every child's session.
        during, restored_at = cut_for(run, 2.5 * SHORT_SESSION_S, black_hole=True)
        jobs += during + run.submit("after", 4)
        recovered_s = wait_for_recovery(run, restored_at)

        print(f"\nZooKeeper back for {recovered_s:.1f} s: every node re-registered")
        after = {**owners(rig.client, Layout(rig.zk.root).workers), **contenders(rig)}
        rig.check(not set(before.values()) & set(after.values()),
                  f"every node should belong to a new session: {before} then {after}")
        check_the_run(run, pids, jobs)


def zk_port(rig: LiveRig) -> int:
    return int(rig.zk.hosts.split(",")[0].rsplit(":", 1)[1])
