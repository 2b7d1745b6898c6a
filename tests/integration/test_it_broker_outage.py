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
from urllib.parse import urlsplit, urlunsplit

import pytest
from fleet_support import start_fleet
from it_support import BIN, rabbitmqctl, write_trace
from tcp_proxy import TcpProxy

pytestmark = [pytest.mark.services, pytest.mark.exclusive]  # stops the machine's RabbitMQ


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


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
        fleet.finish(before)


def test_the_broker_restarted_mid_replay_loses_no_job_and_leaves_nothing_behind(rig):
    # 60 jobs of 0.5 s over 15 s at speed 2: the restart comes in the middle of the run.
    trace = rig.tmp_path / "restart.jsonl"
    write_trace(trace, 60, every_s=0.5, service_s=1.0)
    proc = rig.popen([str(BIN / "imgproc-tui"), "--replay", str(trace), "--backend", "live",
                      "--speed", "2", "--policy", "constantsize", "--param", "size=2",
                      "--json"])
    rig.wait_for(lambda: len(rig.worker_processes()) == 2 and sum(
        m.busy for m in rig.machines()) >= 1, "two workers, one busy", 60)
    workers_before = sorted(p.pid for p in rig.worker_processes())
    rabbitmqctl("stop_app")
    try:
        time.sleep(5)
    finally:
        rabbitmqctl("start_app")
    restarted_at = time.time()
    rig.wait_for(lambda: sum(m.busy for m in rig.machines()) >= 1, "work to go on", 30)
    rig.check(sorted(p.pid for p in rig.worker_processes()) == workers_before,
              "the workers should be the same processes after the restart")
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    told = f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err[-6000:]}"
    rig.check(proc.returncode == 0, f"the replay failed: {told}")
    summary = json.loads(out.strip().splitlines()[-1])
    print(f"replay done {time.time() - restarted_at:.1f} s after the restart; "
          f"{summary['duplicates']} duplicate(s)")
    assert summary["jobs_completed"] == 60 and summary["jobs_lost"] == 0, told
    assert summary["jobs_failed"] == 0, told
    assert rig.worker_processes() == [], told
    assert rig.zk_machine_nodes() == [], told
