"""Fixtures of the cluster tests: the 3-node RabbitMQ cluster and the 3-server ZooKeeper
ensemble of ``scripts/cluster.sh``, started once per session (and stopped at its end,
unless they were already running), and one isolated :class:`~cluster_support.ClusterRig`
per test, cleaned up even on failure.

The tests kill nodes of a cluster that every session on this machine shares, so a session
holds a lock on it from start to stop: a second one waits for the first to finish."""

from __future__ import annotations

import fcntl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cluster_support import SCRIPT, ClusterRig, ClusterServices, cluster_sh, settings_from
from dumping_rig import add_dump

from imgproc.adapters.zk.client import RegistryUnavailable, close, connect

LOCK = Path(tempfile.gettempdir()) / "imgproc-cluster-tests.lock"


@contextmanager
def exclusive_use() -> Iterator[None]:
    """Hold the machine's cluster for this session alone (waiting for another's end)."""
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterServices]:
    """The cluster's settings and an admin ZooKeeper client; starts it when it is not up."""
    with exclusive_use():
        yield from _started_cluster()


def _started_cluster() -> Iterator[ClusterServices]:
    already_up = subprocess.run([str(SCRIPT), "status"], capture_output=True,
                                check=False).returncode == 0
    started = time.monotonic()
    rabbit, zk = settings_from(cluster_sh("start"))
    if not already_up:
        print(f"\ncluster started in {time.monotonic() - started:.1f} s")
    try:
        admin = connect(zk)
    except RegistryUnavailable as exc:
        pytest.fail(f"the ZooKeeper ensemble at {zk.hosts} does not answer ({exc})",
                    pytrace=False)
    try:
        yield ClusterServices(rabbit, zk, admin)
    finally:
        close(admin)
        if not already_up:
            cluster_sh("stop")


@pytest.fixture
def rig(cluster: ClusterServices, tmp_path: Path) -> Iterator[ClusterRig]:
    live = ClusterRig(cluster, tmp_path)
    try:
        yield live
    finally:
        live.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On a failure that did not already show it, add what the cluster said to the report."""
    outcome = yield
    add_dump(item, outcome.get_result(), "cluster: child output, worker logs, nodes")
