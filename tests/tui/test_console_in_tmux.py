"""The real ``imgproc-tui`` in a real terminal (tmux): the screen changes on a number key,
``?`` shows the help, and ``q`` quits after asking about the running machines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polling
import pytest
from tui_helpers import BURST, REPO

from imgproc.core.policies import policy_names

CONSOLE = Path(sys.executable).with_name("imgproc-tui")


@pytest.fixture(autouse=True)
def tmux_installed() -> None:
    """A missing tmux fails these tests (scripts/test installs it); a skip would pass unseen."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: scripts/test installs it", pytrace=False)


class Terminal:
    """One tmux server of our own (its own socket), one 120x40 window running a command."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.socket = f"imgproc-test-{os.getpid()}-{time.monotonic_ns()}"
        self._tmux("new-session", "-d", "-s", "console", "-x", "120", "-y", "40", "-c", str(cwd),
                   *command)

    def _tmux(self, *args: str) -> subprocess.CompletedProcess:
        # An explicit environment: readline (imported under pytest) exports COLUMNS=80 and
        # LINES=24 at the C level, which the console would take for the terminal's size.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=10, env=env)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "console").stdout

    def press(self, key: str) -> None:
        self._tmux("send-keys", "-t", "console", key)

    def alive(self) -> bool:
        return self._tmux("has-session", "-t", "console").returncode == 0

    def wait_for(self, predicate, timeout_s: float = 15.0, what: str = "") -> None:
        """Poll the screen until ``predicate(screen)`` holds."""
        __tracebackhide__ = True
        polling.wait_for(lambda: predicate(self.screen()), what, timeout_s, 0.1,
                         details=lambda: f"screen:\n{self.screen()}")

    def close(self) -> None:
        self._tmux("kill-server")


@pytest.fixture
def terminal():
    trace = str(BURST.relative_to(REPO))
    term = Terminal([str(CONSOLE), "--backend", "sim", "--trace", trace], REPO)
    yield term
    term.close()


def test_the_console_runs_in_a_terminal_switches_policy_shows_help_and_quits(terminal):
    terminal.wait_for(lambda s: "policy slo" in s and "replay burst" in s, what="the main screen")
    assert "╭─ queue ──" + "─" * 40 in terminal.screen(), "the console does not fill 120 columns"
    terminal.press("1")
    first = policy_names()[0]
    terminal.wait_for(lambda s: f"policy {first}" in s, what=f"policy {first}")
    terminal.press("?")
    terminal.wait_for(lambda s: "Main screen" in s and "Switch policy to slo" in s, what="the help")
    terminal.press("Escape")
    terminal.wait_for(lambda s: "Main screen" not in s, what="the help to close")
    terminal.press("q")
    terminal.wait_for(lambda s: "machine(s) are running" in s, what="the quit question")
    terminal.press("l")
    polling.wait_for(lambda: not terminal.alive(), "the console to exit", 10, 0.1)
