"""Vagrant commands through python-vagrant, each with a timeout, in its own process
group, and interruptible from another thread."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import time
from contextlib import suppress
from pathlib import Path

import psutil

import vagrant
from imgproc.core.errors import ProviderError

log = logging.getLogger(__name__)


def tail(text: str, lines: int = 6) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


def log_errors(run_dir: Path, lines: int = 4) -> str:
    """The last lines of a machine's Vagrant log that speak of an error (else its last
    lines): what a failure says it failed of."""
    try:
        text = (run_dir / "vagrant.log").read_text(errors="replace")
    except OSError:
        return "(no log)"
    errors = [line for line in text.splitlines()
              if re.search(r"error|fail|timed out|timeout", line, re.IGNORECASE)]
    return tail("\n".join(errors) if errors else text, lines)


SETUP_LINE = re.compile(r"imgproc-worker-setup: \S+ set up from ([\d.]+) s to ([\d.]+) s of "
                        r"uptime; worker started at ([\d.]+)")


def setup_timings(run_dir: Path) -> dict[str, float]:
    """What the guest's setup step (imgproc-worker-setup) said of its timing in the machine's
    Vagrant log: the guest's uptime when it began (its boot, with Vagrant's wait for SSH),
    how long it took, and the wall time its worker started. Empty when it said nothing."""
    try:
        text = (run_dir / "vagrant.log").read_text(errors="replace")
    except OSError:
        return {}
    found = SETUP_LINE.findall(text)
    if not found:
        return {}
    began, done, worker_started_at = map(float, found[-1])
    return {"guest_boot_s": began, "guest_setup_s": done - began,
            "worker_started_at": worker_started_at}


class CommandTimeout(ProviderError):
    """A vagrant command ran out of time and was interrupted."""


def make_vagrant(root: Path, env: dict[str, str], log_path: Path):
    """A python-vagrant ``Vagrant`` whose commands run with a timeout, in their own
    process group (so Vagrant's ssh children go too), and can be
    interrupted from another thread."""
    class TimedVagrant(vagrant.Vagrant):
        timeout_s: float | None = None

        def __init__(self) -> None:
            super().__init__(root=str(root), env=env, out_cm=vagrant.make_file_cm(str(log_path)),
                             err_cm=vagrant.make_file_cm(str(log_path)))
            self.process: subprocess.Popen | None = None
            self.interrupted = False

        def _spawn(self, command: list[str], stdout, stderr) -> subprocess.Popen:
            """Start a command in its own process group, its pid kept in the run directory
            (a deployer killed meanwhile leaves it there for its successor to stop)."""
            if self.interrupted:
                raise ProviderError(f"vagrant {command[1]} interrupted before it started")
            proc = subprocess.Popen(command, cwd=self.root, stdout=stdout, stderr=stderr,
                                    env=self.env, stdin=subprocess.DEVNULL, start_new_session=True)
            self.process = proc
            pid_file(Path(self.root)).write_text(f"{proc.pid}\n")
            if self.interrupted:  # interrupted while it was being started
                self.interrupt()
            return proc

        def _wait(self, proc: subprocess.Popen, command: list[str]) -> str | None:
            try:
                out, _ = proc.communicate(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                self.interrupt()
                proc.communicate()
                raise CommandTimeout(f"vagrant {command[1]} took more than "
                                     f"{self.timeout_s:.0f} s") from None
            finally:
                self.process = None
                pid_file(Path(self.root)).unlink(missing_ok=True)
            if self.interrupted:
                raise ProviderError(f"vagrant {command[1]} interrupted")
            if proc.returncode != 0:
                raise subprocess.CalledProcessError(proc.returncode, command)
            return out.decode("utf-8", "replace") if out is not None else None

        def interrupt(self, grace_s: float = 30.0) -> None:
            """SIGINT to the command's process group (Vagrant cleans up), SIGKILL after
            ``grace_s``; a command not started yet will not start."""
            self.interrupted = True
            proc = self.process
            if proc is not None:
                interrupt_child_group(proc, grace_s)

        def _call_vagrant_command(self, args):
            command = self._make_vagrant_command(args)
            with self.out_cm() as out, self.err_cm() as err:
                self._wait(self._spawn(command, out, err), command)

        def _run_vagrant_command(self, args):
            command = self._make_vagrant_command(args)
            with self.err_cm() as err:
                return self._wait(self._spawn(command, subprocess.PIPE, err), command)

    return TimedVagrant()


def interrupt_child_group(proc: subprocess.Popen, grace_s: float = 30.0) -> None:
    """SIGINT to the process group a child of ours leads (started with a new session), then,
    once it is done or after ``grace_s``, SIGKILL to what is left of the group."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=grace_s)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        pass
    _kill_what_is_left(proc.pid)


def pid_file(run_dir: Path) -> Path:
    """Where a machine's running Vagrant command notes its process (group) id."""
    return run_dir / "vagrant.pid"


def stop_process_group(pgid: int, grace_s: float = 30.0) -> None:
    """SIGINT to a process group; once its leader is gone (or after ``grace_s``),
    SIGKILL to what is left of it."""
    try:
        os.killpg(pgid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and psutil.pid_exists(pgid):
        time.sleep(0.2)
    _kill_what_is_left(pgid)


def _kill_what_is_left(pgid: int) -> None:
    """SIGKILL to a process group whose leader is done: children that ignored the SIGINT
    (a shell's background jobs do) must not outlive it."""
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def stop_leftover_command(run_dir: Path, grace_s: float = 30.0) -> bool:
    """Stop a Vagrant command left running for this machine by a deployer that died
    (its pid file names a live vagrant process group). Returns whether there was one."""
    try:
        pid = int(pid_file(run_dir).read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        argv = psutil.Process(pid).cmdline()
        # argv[:2], as in: ruby /usr/bin/vagrant up
        is_vagrant = any(Path(arg).name == "vagrant" for arg in argv[:2])
    except psutil.Error:
        is_vagrant = False
    if is_vagrant:
        log.warning("stopping a vagrant command left running in %s (process group %d)",
                    run_dir, pid)
        stop_process_group(pid, grace_s)
    pid_file(run_dir).unlink(missing_ok=True)
    return is_vagrant
