"""The clustered services under test, and one test's isolated slice of them.

``scripts/cluster.sh`` runs a 3-node RabbitMQ cluster (``imgproc-c1..c3@localhost``, AMQP
5681-5683) and a 3-server ZooKeeper ensemble (2191-2193) beside the machine's own services.
A :class:`ClusterRig` (the ``rig`` fixture) isolates a test as the integration tests'
``LiveRig`` does (``tests/integration/it_support.py``), but on the cluster: its own vhost,
made and deleted with ``rabbitmqctl -n imgproc-c1@localhost``, its own ZooKeeper root and
provider state directory, handed to the child processes as ``IMGPROC_*`` settings. It
kills and restarts nodes for the test (``cluster.sh kill-node``/``start-node``), and on the
way out, passed or failed, stops the processes, starts again every node the test killed
and removes the vhost and the root.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
from dumping_rig import DumpingRig
from fleet import Fleet
from kazoo.client import KazooClient

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import (
    RabbitCommandBus,
    RabbitJobPublisher,
    RabbitResultFeed,
    RabbitSettings,
)
from imgproc.adapters.zk.client import close, connect
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.adapters.zk.settings import ZkSettings
from imgproc.adapters.zk.tree import clear
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import DeployerCommand

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cluster.sh"
NODES = (1, 2, 3)
T = TypeVar("T")


def cluster_sh(*args: str, timeout_s: float = 150.0) -> str:
    """Run ``scripts/cluster.sh ARGS``; its output, or the test fails with what it said."""
    try:
        proc = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"scripts/cluster.sh {' '.join(args)}: {exc}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"scripts/cluster.sh {' '.join(args)} failed:\n{proc.stderr.strip()}",
                    pytrace=False)
    return proc.stdout


def ctl(node: int, *args: str) -> str:
    """``rabbitmqctl -q -n imgproc-cN@localhost ARGS`` (through the script: its cookie)."""
    return cluster_sh("ctl", str(node), "-q", *args, timeout_s=60)


def node_name(node: int) -> str:
    return f"imgproc-c{node}@localhost"


def amqp_url(node: int, vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:{5680 + node}/{vhost}"


def running_nodes(via: int) -> list[str]:
    """The RabbitMQ nodes running in the cluster, as node ``via`` sees them."""
    status = json.loads(ctl(via, "cluster_status", "--formatter", "json"))
    return sorted(status["running_nodes"])


def zk_mode(server: int) -> str:
    """leader, follower, or down: what ZooKeeper server ``server`` says to ``srvr``."""
    return cluster_sh("zk-mode", str(server), timeout_s=20).strip()


@dataclass(frozen=True)
class ClusterServices:
    """The cluster's settings (every node of each) and an admin ZooKeeper client."""

    rabbit: RabbitSettings
    zk: ZkSettings
    admin: KazooClient


def settings_from(exports: str) -> tuple[RabbitSettings, ZkSettings]:
    """The settings ``cluster.sh start`` prints (``export IMGPROC_RABBIT='{...}'`` lines)."""
    found = {}
    for line in exports.splitlines():
        if line.startswith("export IMGPROC_"):
            name, value = line.removeprefix("export ").split("=", 1)
            found[name] = json.loads(value.strip("'"))
    return (RabbitSettings(**found["IMGPROC_RABBIT"]),
            ZkSettings(**found["IMGPROC_ZK"], connect_timeout_s=10.0))


class ClusterRig(DumpingRig):
    """One test's isolated slice of the cluster, the processes it started, the nodes it
    killed."""

    def __init__(self, services: ClusterServices, tmp_path: Path) -> None:
        self.run_id = uuid.uuid4().hex[:10]
        self.vhost = f"imgproc-cl-{self.run_id}"
        self.rabbit = services.rabbit.with_vhost(self.vhost)
        self.zk = services.zk.model_copy(update={"root": f"/imgproc-test-{self.run_id}"})
        self.admin = services.admin
        self.tmp_path = tmp_path
        self.state_dir = tmp_path / "machines"
        self.processes: list[ManagedProcess] = []
        self.killed: set[tuple[str, int]] = set()
        self._closers: list[Callable[[], None]] = []
        self._client: KazooClient | None = None
        ctl(1, "add_vhost", self.vhost)
        ctl(1, "set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")

    # -- settings, processes, clients ---------------------------------------------------

    def urls(self, *order: int) -> str:
        """The test's broker url, the nodes in ``order`` (clients connect to the first)."""
        return ",".join(amqp_url(n, self.vhost) for n in order)

    def env(self, rabbit_url: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPROC_")}
        env["IMGPROC_RABBIT"] = json.dumps({"url": rabbit_url or self.rabbit.url})
        env["IMGPROC_ZK"] = json.dumps({"hosts": self.zk.hosts, "root": self.zk.root})
        env["IMGPROC_PROVIDER"] = json.dumps({"state_dir": str(self.state_dir),
                                              "drain_timeout_s": 20})
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def spawn(self, name: str, *args: str, rabbit_url: str | None = None) -> ManagedProcess:
        """Start ``python -m imgproc.cli ARGS`` on the cluster (workers inherit the env)."""
        proc = ManagedProcess(name, list(args), self.env(rabbit_url))
        self.processes.append(proc)
        proc.start()
        return proc

    def keep(self, thing: T) -> T:
        """Close ``thing`` on the way out."""
        self._closers.append(thing.close)  # type: ignore[attr-defined]
        return thing

    def feed(self) -> RabbitResultFeed:
        """A durable result feed: every result published from now on, none missed."""
        return self.keep(RabbitResultFeed(self.rabbit, durable=True))

    @property
    def client(self) -> KazooClient:
        if self._client is None:
            self._client = connect(self.zk)
        return self._client

    def machines(self, *states: MachineState) -> list[Machine]:
        found = ZkMachineRegistry(self.client, self.zk.root).all_machines()
        return [m for m in found if not states or m.state in states]

    def worker_processes(self) -> list[psutil.Process]:
        """Live ``imgproc.cli worker`` processes of this test's state directory."""
        found = []
        for proc in psutil.process_iter(["cmdline", "status"]):
            with contextlib.suppress(psutil.Error):
                cmdline = proc.info["cmdline"] or []
                if (proc.info["status"] != psutil.STATUS_ZOMBIE and "imgproc.cli" in cmdline
                        and "worker" in cmdline
                        and str(self.state_dir) in proc.environ().get("IMGPROC_PROVIDER", "")):
                    found.append(proc)
        return found

    # -- faults ----------------------------------------------------------------------------

    def kill(self, kind: str, node: int) -> float:
        """SIGKILL RabbitMQ node or ZooKeeper server ``node``; returns when it was dead."""
        self.killed.add((kind, node))
        cluster_sh("kill-node", kind, str(node))
        return time.time()

    def restart(self, kind: str, node: int) -> float:
        """Start a killed node again; returns how long until it had rejoined."""
        started = time.time()
        cluster_sh("start-node", kind, str(node))
        self.killed.discard((kind, node))
        return time.time() - started

    # -- waiting and telling ---------------------------------------------------------------

    def dump(self) -> str:
        """Child output, worker logs and the cluster's state, to understand a failure."""
        parts = []
        for proc in self.processes:
            lines = list(proc.lines)[-60:]
            parts.append(f"--- {proc.name} ({proc.state()}), last {len(lines)} lines:")
            parts.extend(lines)
        for log in sorted(self.state_dir.glob("*.log")) if self.state_dir.exists() else []:
            lines = log.read_text(errors="replace").splitlines()[-30:]
            parts.append(f"--- worker log {log.name}, last {len(lines)} lines:")
            parts.extend(lines)
        status = subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True,
                                timeout=60, check=False)
        parts.append("--- scripts/cluster.sh status:")
        parts.append(status.stdout + status.stderr)
        return "\n".join(parts)


    # -- the way out -------------------------------------------------------------------------

    def destroy_all(self, timeout_s: float = 40.0) -> None:
        """Destroy every live machine through the deployer and wait until none is left."""
        bus = self.keep(RabbitCommandBus(self.rabbit, role=f"test {self.run_id}"))
        for machine in self.machines():
            if machine.state not in (MachineState.DESTROYING, MachineState.DESTROYED):
                bus.send(DeployerCommand(command="destroy", machine_id=machine.id,
                                         sent_at=time.time()))
        self.wait_for(lambda: not ZkMachineRegistry(self.client, self.zk.root).machines(),
                      "every machine to be destroyed", timeout_s)

    def close(self) -> None:
        """Stop what the test started, restart what it killed, remove its vhost and root."""
        try:
            for managed in reversed(self.processes):
                managed.stop(timeout_s=5)
            workers = self.worker_processes()
            for worker in workers:
                with contextlib.suppress(psutil.Error):
                    worker.kill()
            psutil.wait_procs(workers, timeout=10)
            for closer in reversed(self._closers):
                with contextlib.suppress(Exception):  # cleanup goes on
                    closer()
            if self._client is not None:
                close(self._client)
        finally:
            try:
                for kind, node in sorted(self.killed):
                    self.restart(kind, node)
            finally:
                try:
                    clear(self.admin, self.zk.root)
                finally:
                    ctl(1, "delete_vhost", self.vhost)


def start_fleet(rig: ClusterRig, size: int, service_s: float,
                rabbit_url: str | None = None) -> Fleet:
    """The test's durable feed and publisher (on ``rig.rabbit``), then a deployer and a
    constantsize scaler of ``size`` workers on ``rabbit_url``; returns once they run."""
    feed = rig.feed()
    publisher = rig.keep(RabbitJobPublisher(rig.rabbit, role=f"test {rig.run_id}"))
    deployer = rig.spawn("deployer", "deployer", rabbit_url=rabbit_url)
    scaler = rig.spawn("scaler", "scaler", "--policy", "constantsize", "--param",
                       f"size={size}", "--interval", "0.5", "--identifier",
                       f"cl-{rig.run_id}", rabbit_url=rabbit_url)
    rig.wait_for(lambda: len(rig.machines(MachineState.RUNNING)) == size
                 and len(rig.worker_processes()) == size, f"{size} running workers", 40)
    return Fleet(rig, deployer, scaler, publisher, feed, service_s)
