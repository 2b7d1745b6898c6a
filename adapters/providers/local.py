"""The local provider: a "machine" is a worker process on this host.

Workers start in their own session so that they outlive a crashed deployer,
as VMs would. Each has a pid file under the state directory, so a restarted
deployer finds them again (reconciliation) instead of leaving orphans.
Stopping sends SIGTERM (the worker finishes its job, acks, exits) and kills
only after the drain timeout.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
from pydantic import BaseModel, ConfigDict, Field

from imgproc.adapters.providers.environment import environment_with
from imgproc.adapters.providers.ids import checked_id
from imgproc.adapters.providers.settings import ProviderSettings
from imgproc.core.errors import ProviderError

log = logging.getLogger(__name__)


class LocalOptions(BaseModel):
    """The local provider's own options (``provider.options``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    worker_command: list[str] | None = Field(
        default=None, description="how to run a worker [this Python's `imgproc worker`]")


class LocalProvider:
    """Starts ``worker_command --machine-id ID`` processes and stops them gently."""

    name = "local"
    Options = LocalOptions

    def __init__(self, state_dir: Path, worker_command: Sequence[str],
                 env: dict[str, str] | None = None, drain_timeout_s: float = 60.0) -> None:
        self.state_dir = state_dir
        self.worker_command = list(worker_command)
        self.env = env
        self.drain_timeout_s = drain_timeout_s
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._children: dict[str, subprocess.Popen] = {}

    @classmethod
    def from_settings(cls, settings: ProviderSettings,
                      worker_settings: Mapping[str, Any]) -> LocalProvider:
        """Workers run with ``worker_settings`` as their ``IMGPROC_*`` environment."""
        options = LocalOptions.model_validate(settings.options)
        command = options.worker_command or [sys.executable, "-m", "imgproc.cli", "worker"]
        speed = float(worker_settings.get("clock", {}).get("speed", 1.0))
        return cls(settings.state_dir, command, environment_with(os.environ, worker_settings),
                   settings.drain_timeout_s / speed)  # trace seconds, waited in wall time

    def _pid_file(self, machine_id: str) -> Path:
        return self.state_dir / f"{machine_id}.json"

    def _command(self, machine_id: str) -> list[str]:
        return [*self.worker_command, "--machine-id", machine_id]

    def _write_record(self, machine_id: str, pid: int | None, log_path: Path) -> None:
        record = {"machine_id": machine_id, "pid": pid, "log": str(log_path)}
        tmp = self._pid_file(machine_id).with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self._pid_file(machine_id))

    def start(self, machine_id: str) -> str:
        checked_id(machine_id)
        log_path = self.state_dir / f"{machine_id}.log"
        # Recorded before the process exists (pid unknown): a deployer that dies between
        # the two writes leaves a record by which its successor finds the worker.
        self._write_record(machine_id, None, log_path)
        try:
            with open(log_path, "ab") as out:
                proc = subprocess.Popen(
                    self._command(machine_id),
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    env=self.env, start_new_session=True,
                )
        except OSError as exc:
            self._pid_file(machine_id).unlink(missing_ok=True)
            raise ProviderError(f"cannot start worker {machine_id}: {exc}") from exc
        self._children[machine_id] = proc
        self._write_record(machine_id, proc.pid, log_path)
        return f"local:pid{proc.pid}"

    def _process(self, machine_id: str) -> psutil.Process | None:
        """The live process of a machine, checked against pid reuse."""
        child = self._children.get(machine_id)
        if child is not None:
            # Our own child, not yet reaped, so its pid cannot have been reused; its command
            # line is not checked: between fork and exec (long, on a loaded host) it is ours.
            if child.poll() is not None:
                return None
            try:
                return psutil.Process(child.pid)
            except psutil.Error:
                return None
        try:
            record = json.loads(self._pid_file(machine_id).read_text())
            if record["pid"] is None:
                return self._find(machine_id)
            proc = psutil.Process(record["pid"])
            if proc.status() == psutil.STATUS_ZOMBIE or machine_id not in proc.cmdline():
                return None
            return proc
        except (OSError, ValueError, KeyError, TypeError, psutil.Error):
            return None

    def _find(self, machine_id: str) -> psutil.Process | None:
        """The worker started for ``machine_id`` whose pid was never recorded, if it runs."""
        command = self._command(machine_id)
        for proc in psutil.process_iter(["cmdline", "status"]):
            if proc.info["cmdline"] == command and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return proc
        return None

    def stop(self, machine_id: str) -> None:
        checked_id(machine_id)
        proc = self._process(machine_id)
        if proc is not None:
            self._terminate(machine_id, proc)
        child = self._children.pop(machine_id, None)
        if child is not None:
            child.wait(timeout=5)
        self._pid_file(machine_id).unlink(missing_ok=True)

    def _terminate(self, machine_id: str, proc: psutil.Process) -> None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=self.drain_timeout_s)
        except psutil.TimeoutExpired:
            log.warning("worker %s still busy after %.0f s: killing it", machine_id,
                        self.drain_timeout_s)
            proc.kill()
            proc.wait(timeout=10)
        except psutil.NoSuchProcess:
            pass

    def alive(self) -> set[str]:
        ids = [p.stem for p in self.state_dir.glob("*.json")]
        return {machine_id for machine_id in ids if self._process(machine_id) is not None}

    def interrupt_starts(self) -> None:
        """A process starts at once: nothing is ever halfway."""

    def close(self) -> None:
        """Workers outlive the deployer (as VMs would): nothing to release."""


PROVIDER = LocalProvider
