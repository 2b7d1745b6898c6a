"""The live system, really running: the rig behind the integration tests' fixtures.

Every test gets a :class:`LiveRig` (the ``rig`` fixture): its own RabbitMQ vhost (made with
rabbitmqctl, deleted afterwards), its own ZooKeeper root (deleted afterwards)
and its own provider state directory, handed to child processes through the
``IMGPROC_RABBIT``, ``IMGPROC_ZK`` and ``IMGPROC_PROVIDER`` environment
variables, exactly as an operator would isolate a run. The rig starts
``imgproc`` processes (deployer, scaler, ...), and on the way out, passed or
failed, stops them and kills every worker process that belongs to the test's
state directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
from dumping_rig import DumpingRig
from kazoo.client import KazooClient

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import RabbitCommandBus, RabbitResultFeed, RabbitSettings
from imgproc.adapters.zk.client import close, connect
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.adapters.zk.settings import ZkSettings
from imgproc.adapters.zk.tree import clear
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import DeployerCommand

START_HINT = "start them with scripts/ensure-services.sh"
ZK_CLI = "/usr/share/zookeeper/bin/zkCli.sh"
BIN = Path(sys.executable).parent
T = TypeVar("T")


def rabbitmqctl(*args: str, timeout_s: float = 30.0) -> str:
    """Run ``rabbitmqctl -q ARGS``; fail the test (naming the fix) if it cannot."""
    try:
        proc = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"rabbitmqctl {args[0]}: {exc}; {START_HINT}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {proc.stderr.strip()}; {START_HINT}",
                    pytrace=False)
    return proc.stdout


def write_trace(path: Path, jobs: int, every_s: float, service_s: float,
                prefix: str = "job") -> list[str]:
    """A trace of ``jobs`` simulated jobs, one every ``every_s``; returns their ids."""
    ids = [f"{prefix}-{i:04d}" for i in range(jobs)]
    with path.open("w") as out:
        for i, job_id in enumerate(ids):
            out.write(json.dumps({"id": job_id, "at": round(i * every_s, 3),
                                  "service_s": service_s, "user": "it"}) + "\n")
    return ids


class LiveRig(DumpingRig):
    """One test's isolated slice of the services, and the processes it started."""

    def __init__(self, base_rabbit: RabbitSettings, base_zk: ZkSettings, admin: KazooClient,
                 tmp_path: Path) -> None:
        self.run_id = uuid.uuid4().hex[:10]
        self.vhost = f"imgproc-it-{self.run_id}"
        self.rabbit = base_rabbit.with_vhost(self.vhost)
        self.zk = base_zk.model_copy(update={"root": f"/imgproc-test-{self.run_id}"})
        self.state_dir = tmp_path / "machines"
        self.tmp_path = tmp_path
        self.admin = admin
        self.processes: list[ManagedProcess] = []
        self.popens: list[subprocess.Popen] = []
        self._closers: list[Callable[[], None]] = []
        self._client: KazooClient | None = None
        rabbitmqctl("add_vhost", self.vhost)
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")

    # -- settings and processes -------------------------------------------------------

    def env(self, **provider: Any) -> dict[str, str]:
        """Our environment with the test's services and state directory as IMGPROC_* JSON."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPROC_")}
        env["IMGPROC_RABBIT"] = json.dumps({"url": self.rabbit.url})
        env["IMGPROC_ZK"] = json.dumps({"hosts": self.zk.hosts, "root": self.zk.root})
        env["IMGPROC_PROVIDER"] = json.dumps({"state_dir": str(self.state_dir),
                                              "drain_timeout_s": 20, **provider})
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def spawn(self, name: str, *args: str, **provider: Any) -> ManagedProcess:
        """Start ``python -m imgproc.cli ARGS`` with the test's environment."""
        proc = ManagedProcess(name, list(args), self.env(**provider))
        self.processes.append(proc)
        proc.start()
        return proc

    def popen(self, command: list[str], **provider: Any) -> subprocess.Popen:
        """Start a command in its own process group (killed whole on the way out)."""
        proc = subprocess.Popen(command, cwd=self.tmp_path, env=self.env(**provider),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.popens.append(proc)
        return proc

    def keep(self, thing: T) -> T:
        """Close ``thing`` on the way out."""
        self._closers.append(thing.close)  # type: ignore[attr-defined]
        return thing

    @property
    def client(self) -> KazooClient:
        if self._client is None:
            self._client = connect(self.zk)
        return self._client

    @property
    def registry(self) -> ZkMachineRegistry:
        return ZkMachineRegistry(self.client, self.zk.root)

    def bus(self) -> RabbitCommandBus:
        return self.keep(RabbitCommandBus(self.rabbit, role=f"test {self.run_id}"))

    def feed(self) -> RabbitResultFeed:
        """A durable result feed: every result published from now on, none missed."""
        return self.keep(RabbitResultFeed(self.rabbit, durable=True))

    # -- what is there ------------------------------------------------------------------

    def machines(self, *states: MachineState) -> list[Machine]:
        found = self.registry.all_machines()
        return [m for m in found if not states or m.state in states]

    def worker_processes(self) -> list[psutil.Process]:
        """Live (not zombie) ``imgproc.cli worker`` processes of this test's state directory."""
        mine = str(self.state_dir)
        known = {p.stem for p in self.state_dir.glob("*.log")} if self.state_dir.exists() else set()
        found = []
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            try:
                cmdline = proc.info["cmdline"] or []
                if proc.info["status"] == psutil.STATUS_ZOMBIE:
                    continue
                if "imgproc.cli" not in cmdline or "worker" not in cmdline:
                    continue
                ours = any(arg in known for arg in cmdline)
                if not ours:
                    ours = mine in proc.environ().get("IMGPROC_PROVIDER", "")
                if ours:
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    @staticmethod
    def machine_of(proc: psutil.Process) -> str | None:
        cmdline = proc.cmdline()
        if "--machine-id" in cmdline:
            return cmdline[cmdline.index("--machine-id") + 1]
        return None

    def queue_messages(self) -> dict[str, int]:
        """Messages (ready + unacked) in every queue of the test's vhost, by rabbitmqctl."""
        out = rabbitmqctl("--no-table-headers", "list_queues", "-p", self.vhost, "name", "messages")
        counts = {}
        for line in out.splitlines():
            if line.strip():
                name, messages = line.rsplit("\t", 1)
                counts[name] = int(messages)
        return counts

    def messages_left(self, ignore: tuple[str, ...] = (), timeout_s: float = 15.0
                      ) -> dict[str, int]:
        """Queues still holding messages, once rabbitmqctl's counts show none, or after
        ``timeout_s``: its counts of quorum queues lag by seconds. The kept results are
        not left behind: they are kept on purpose (``rabbit.kept_results_ttl_s``)."""
        ignore = (*ignore, self.rabbit.kept_results_queue)
        deadline = time.monotonic() + timeout_s
        while True:
            left = {q: n for q, n in self.queue_messages().items() if n and q not in ignore}
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.5)

    def connections(self) -> dict[str, str]:
        """Open connections of the test's vhost: broker pid by the client's connection_name."""
        out = rabbitmqctl("--no-table-headers", "list_connections", "pid", "vhost", "state",
                          "client_properties")
        found = {}
        marker = '{"connection_name","'
        for line in out.splitlines():
            pid, vhost, state, props = [*line.split("\t", 3), "", "", ""][:4]
            if vhost == self.vhost and marker in props and state not in ("closing", "closed"):
                found[props.split(marker, 1)[1].split('"', 1)[0]] = pid
        return found

    def close_connections(self, pids: dict[str, str]) -> None:
        """Close these connections (broker pids by name) from the broker's side, all at once."""
        closing = [subprocess.Popen(["rabbitmqctl", "-q", "close_connection", pid,
                                     "closed by an integration test"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                   for pid in pids.values()]
        for name, proc in zip(pids, closing, strict=True):
            _, err = proc.communicate(timeout=60)
            self.check(proc.returncode == 0, f"rabbitmqctl close_connection {name}: {err}")

    def zk_machine_nodes(self) -> list[str]:
        """Children of ``<root>/machines`` as ZooKeeper's own CLI lists them."""
        path = f"{self.zk.root}/machines"
        proc = subprocess.run([ZK_CLI, "-server", self.zk.hosts, "ls", path], capture_output=True,
                              text=True, timeout=60, check=False)
        text = proc.stdout + proc.stderr
        if "Node does not exist" in text:
            return []
        for line in reversed(proc.stdout.splitlines()):
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                return [c.strip() for c in line[1:-1].split(",") if c.strip()]
        pytest.fail(f"zkCli.sh ls {path} said:\n{text}; {START_HINT}", pytrace=False)

    # -- waiting and telling --------------------------------------------------------------

    def dump(self) -> str:
        """Everything that helps understand a failure: child output, worker logs, records."""
        parts = []
        for proc in self.processes:
            lines = list(proc.lines)[-80:]
            parts.append(f"--- {proc.name} ({proc.state()}), last {len(lines)} lines:")
            parts.extend(lines)
        if self.state_dir.exists():
            for log in sorted(self.state_dir.glob("*.log")):
                lines = log.read_text(errors="replace").splitlines()[-30:]
                parts.append(f"--- worker log {log.name}, last {len(lines)} lines:")
                parts.extend(lines)
        try:
            parts.append("--- machine records:")
            parts.extend(f"{m.id} {m.state.value} job={m.current_job} done={m.jobs_done} "
                         f"reason={m.reason} details={m.details}" for m in self.machines())
        except Exception as exc:  # noqa: BLE001 - a dump must not hide the failure
            parts.append(f"(cannot read the registry: {exc})")
        return "\n".join(parts)


    # -- the way out -----------------------------------------------------------------------

    def destroy_all(self, timeout_s: float = 40.0) -> None:
        """Destroy every live machine through the deployer and wait until none is left."""
        bus = self.bus()
        for machine in self.machines():
            if machine.state not in (MachineState.DESTROYING, MachineState.DESTROYED):
                send_destroy(bus, machine.id)
        self.wait_for(lambda: not self.registry.machines(), "every machine to be destroyed",
                      timeout_s)

    def close(self) -> None:
        """Stop everything the test started, then remove its vhost and ZooKeeper root."""
        try:
            self._stop_processes()
            for closer in reversed(self._closers):
                with contextlib.suppress(Exception):  # cleanup goes on
                    closer()
            if self._client is not None:
                close(self._client)
        finally:
            try:
                clear(self.admin, self.zk.root)
            finally:
                rabbitmqctl("delete_vhost", self.vhost)

    def _stop_processes(self) -> None:
        for proc in self.popens:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
        for managed in reversed(self.processes):
            managed.stop(timeout_s=5)
        for proc in self.popens:
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.communicate(timeout=10)
        workers = self.worker_processes()
        for worker in workers:
            with contextlib.suppress(psutil.Error):
                worker.kill()
        psutil.wait_procs(workers, timeout=10)


def send_destroy(bus: RabbitCommandBus, machine_id: str) -> None:
    bus.send(DeployerCommand(command="destroy", machine_id=machine_id, sent_at=time.time()))


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
