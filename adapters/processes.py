"""Child processes of imgproc's own commands (deployer, scaler), started and stopped
cleanly, their output kept in a bounded buffer for whoever shows it."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence


class ManagedProcess:
    """``python -m imgproc.cli ARGS`` as a child; ``stop`` asks with SIGTERM, kills after a
    timeout."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str] | None = None,
                 keep_lines: int = 2000) -> None:
        self.name = name
        self.args = list(args)
        self.env = env
        self.lines: collections.deque[str] = collections.deque(maxlen=keep_lines)
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "imgproc.cli", *self.args]

    def start(self) -> None:
        if self.running:
            return
        self._proc = subprocess.Popen(
            self.command, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, args=(self._proc,), daemon=True,
                                        name=f"{self.name}-output")
        self._reader.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def state(self) -> str:
        if self._proc is None:
            return "not started"
        code = self._proc.poll()
        return "running" if code is None else f"exited with code {code}"

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; returns the exit code."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=5)
        return self._proc.returncode

    def restart(self) -> None:
        self.stop()
        self.start()
