"""Child processes of imgproc's own commands: started, their output kept (bounded),
their state told, stopped with SIGTERM (killed only when they will not go), restarted."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_for

from imgproc.adapters.processes import ManagedProcess

# Every ``imgproc`` command that runs until told to stop (worker, deployer, scaler)
# needs RabbitMQ and ZooKeeper, so the long-running child here is a small script
# standing in for one: it prints "ready PID" once its SIGTERM handling is set up,
# then waits; on SIGTERM it says goodbye and exits 0 ("stubborn" ignores SIGTERM).
SERVICE = r"""
import os, signal, sys, time
def goodbye(signum, frame):
    print("got SIGTERM, finishing", flush=True)
    sys.exit(0)
stubborn = "stubborn" in sys.argv[1:]
signal.signal(signal.SIGTERM, signal.SIG_IGN if stubborn else goodbye)
print(f"ready {os.getpid()}", flush=True)
while True:
    time.sleep(0.02)
"""

COUNTS_TO_50 = "for i in range(1, 51): print(i)"


class ScriptProcess(ManagedProcess):
    """A ManagedProcess whose child is ``python -c SCRIPT ARGS`` instead of ``imgproc.cli``."""

    def __init__(self, script: str, args: list[str] | None = None, keep_lines: int = 2000) -> None:
        super().__init__("script", args or [], keep_lines=keep_lines)
        self.script = script

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-u", "-c", self.script, *self.args]


@pytest.fixture
def processes() -> Iterator[list[ManagedProcess]]:
    """Processes a test made; any still running at the end is stopped."""
    made: list[ManagedProcess] = []
    yield made
    for process in made:
        process.stop(timeout_s=1.0)


def finished(process: ManagedProcess) -> int | None:
    """Wait for ``process`` to exit on its own and for its output to be read; its exit code."""
    wait_for(lambda: not process.running, f"{process.name} to exit", timeout_s=15.0)
    return process.stop()


def test_a_process_not_started_says_so(processes):
    process = ManagedProcess("policies", ["policies"])

    assert (process.state(), process.pid, process.exit_code, process.running) == (
        "not started", None, None, False)
    assert process.stop() is None


def test_a_command_that_succeeds_is_reported_exited_with_code_0_and_its_output_kept(processes):
    process = ManagedProcess("policies", ["policies"])
    processes.append(process)

    process.start()

    assert finished(process) == 0
    assert process.state() == "exited with code 0"
    assert process.exit_code == 0
    assert any("constantsize" in line for line in process.lines)


def test_a_command_that_fails_is_reported_with_its_exit_code_and_its_error_output(
        processes, tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("this is not a trace\n")
    process = ManagedProcess("validate", ["workload", "validate", str(bad)])
    processes.append(process)

    process.start()

    assert finished(process) == 1
    assert process.state() == "exited with code 1"
    assert any("1 invalid line(s)" in line for line in process.lines)  # stderr is kept too


def test_only_the_latest_lines_are_kept(processes):
    process = ScriptProcess(COUNTS_TO_50, keep_lines=5)
    processes.append(process)

    process.start()

    assert finished(process) == 0
    assert list(process.lines) == ["46", "47", "48", "49", "50"]


def test_a_running_process_is_stopped_with_sigterm_and_lets_it_finish(processes):
    process = ScriptProcess(SERVICE)
    processes.append(process)
    process.start()
    wait_for(lambda: f"ready {process.pid}" in process.lines, "the child to be ready",
             timeout_s=15.0)
    assert process.state() == "running"

    code = process.stop(timeout_s=10.0)

    assert code == 0
    assert process.state() == "exited with code 0"
    assert "got SIGTERM, finishing" in process.lines


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout(processes):
    process = ScriptProcess(SERVICE, ["stubborn"])
    processes.append(process)
    process.start()
    wait_for(lambda: f"ready {process.pid}" in process.lines, "the child to be ready",
             timeout_s=15.0)

    code = process.stop(timeout_s=0.3)

    assert code == -signal.SIGKILL
    assert process.state() == f"exited with code {-signal.SIGKILL}"


def test_starting_a_running_process_again_changes_nothing(processes):
    process = ScriptProcess(SERVICE)
    processes.append(process)
    process.start()
    pid = process.pid

    process.start()

    assert process.pid == pid
    assert process.running


def test_a_restart_stops_the_running_child_and_starts_a_new_one(processes):
    process = ScriptProcess(SERVICE)
    processes.append(process)
    process.start()
    first = process.pid
    wait_for(lambda: f"ready {first}" in process.lines, "the first child to be ready",
             timeout_s=15.0)

    process.restart()

    assert process.pid != first
    assert process.state() == "running"
    assert "got SIGTERM, finishing" in process.lines  # the old one was stopped gently
    wait_for(lambda: f"ready {process.pid}" in process.lines, "the child to be ready",
             timeout_s=15.0)


def test_a_process_that_exited_can_be_started_again(processes):
    process = ScriptProcess(COUNTS_TO_50, keep_lines=1)
    processes.append(process)
    process.start()
    finished(process)
    first = process.pid

    process.restart()

    assert process.pid != first
    assert finished(process) == 0
