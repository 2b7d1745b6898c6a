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

import subprocess
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from fleet_support import finish, start_fleet
from it_support import rabbitmqctl
from tcp_proxy import TcpProxy

pytestmark = pytest.mark.services


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
