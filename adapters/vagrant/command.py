"""Vagrant commands through python-vagrant, each with a timeout, in its own process
group, and interruptible from another thread."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from pathlib import Path

from imgproc.adapters.local_provider import ProviderError

log = logging.getLogger(__name__)


def tail(text: str, lines: int = 6) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


def _vagrant_module():
    try:
        import vagrant
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ProviderError("python-vagrant is not installed (pip install python-vagrant)") from exc
    return vagrant


class CommandTimeout(ProviderError):
    """A vagrant command ran out of time and was interrupted."""


def make_vagrant(root: Path, env: dict[str, str], log_path: Path):
    """A python-vagrant ``Vagrant`` whose commands run with a timeout, in their own
    process group (so Vagrant's ssh and rsync children go too), and can be
    interrupted from another thread."""
    vagrant = _vagrant_module()

    class TimedVagrant(vagrant.Vagrant):
        timeout_s: float | None = None

        def __init__(self) -> None:
            super().__init__(root=str(root), env=env, out_cm=vagrant.make_file_cm(str(log_path)),
                             err_cm=vagrant.make_file_cm(str(log_path)))
            self.process: subprocess.Popen | None = None
            self.interrupted = False

        def _wait(self, proc: subprocess.Popen, command: list[str]) -> str | None:
            self.process = proc
            try:
                out, _ = proc.communicate(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                self.interrupt()
                proc.communicate()
                raise CommandTimeout(f"vagrant {command[1]} took more than {self.timeout_s:.0f} s") from None
            finally:
                self.process = None
            if self.interrupted:
                raise ProviderError(f"vagrant {command[1]} interrupted")
            if proc.returncode != 0:
                raise subprocess.CalledProcessError(proc.returncode, command)
            return out.decode("utf-8", "replace") if out is not None else None

        def interrupt(self, grace_s: float = 30.0) -> None:
            """SIGINT to the command's process group (Vagrant cleans up), SIGKILL after ``grace_s``."""
            proc = self.process
            if proc is None or proc.poll() is not None:
                return
            self.interrupted = True
            try:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        def _call_vagrant_command(self, args):
            command = self._make_vagrant_command(args)
            with self.out_cm() as out, self.err_cm() as err:
                proc = subprocess.Popen(command, cwd=self.root, stdout=out, stderr=err, env=self.env,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
                self._wait(proc, command)

        def _run_vagrant_command(self, args):
            command = self._make_vagrant_command(args)
            with self.err_cm() as err:
                proc = subprocess.Popen(command, cwd=self.root, stdout=subprocess.PIPE, stderr=err,
                                        env=self.env, stdin=subprocess.DEVNULL, start_new_session=True)
                return self._wait(proc, command)

    return TimedVagrant()
