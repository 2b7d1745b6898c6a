"""The local provider with real child processes: started in their own session, found
again by a restarted deployer, stopped gently with SIGTERM and killed only after the
drain timeout, never confused with an unrelated process that reuses a pid."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from polling import wait_for

from imgproc.adapters.providers.local import LocalProvider
from imgproc.core.errors import ProviderError

# A stand-in worker: ``script OUT_DIR MODE --machine-id ID``. It says "ready" once its
# SIGTERM handling is in place, then idles. "graceful" finishes its work on SIGTERM
# (writes OUT_DIR/ID.finished) and exits 0; "stubborn" ignores SIGTERM.
WORKER = r"""
import pathlib, signal, sys, time
out, mode = pathlib.Path(sys.argv[1]), sys.argv[2]
machine_id = sys.argv[sys.argv.index("--machine-id") + 1]
def finish(signum, frame):
    (out / f"{machine_id}.finished").write_text("job done, acked")
    sys.exit(0)
signal.signal(signal.SIGTERM, finish if mode == "graceful" else signal.SIG_IGN)
(out / f"{machine_id}.ready").write_text("ready")
while True:
    time.sleep(0.02)
"""


def pid_of(address: str) -> int:
    assert address.startswith("local:pid")
    return int(address.removeprefix("local:pid"))


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out


@pytest.fixture
def make_provider(tmp_path: Path, out_dir: Path) -> Iterator[Callable[..., LocalProvider]]:
    """Providers on one state directory; whatever they leave running is killed at the end."""
    made: list[LocalProvider] = []

    def make(mode: str = "graceful", drain_timeout_s: float = 10.0) -> LocalProvider:
        command = [sys.executable, "-c", WORKER, str(out_dir), mode]
        provider = LocalProvider(tmp_path / "state", command, drain_timeout_s=drain_timeout_s)
        made.append(provider)
        return provider

    yield make
    cleaner = LocalProvider(tmp_path / "state", [], drain_timeout_s=0.0)
    for machine_id in cleaner.alive():
        cleaner.stop(machine_id)
    for provider in made:
        for child in provider._children.values():
            if child.poll() is None:
                child.kill()
                child.wait(5)


def started(provider: LocalProvider, out_dir: Path, machine_id: str) -> int:
    """Start ``machine_id`` and wait until its worker is ready; its pid."""
    address = provider.start(machine_id)
    wait_for(lambda: (out_dir / f"{machine_id}.ready").exists(), f"{machine_id} to be ready",
             timeout_s=10.0)
    return pid_of(address)


def test_a_started_machine_has_an_address_and_is_alive(make_provider, out_dir):
    provider = make_provider()

    pid = started(provider, out_dir, "w1")

    assert psutil.Process(pid).is_running()
    assert provider.alive() == {"w1"}
    assert json.loads((provider.state_dir / "w1.json").read_text())["pid"] == pid


def test_a_started_worker_is_alive_whatever_its_command_line_shows(tmp_path):
    # Between fork and exec (long on a loaded host) a child's command line is its parent's;
    # this one's never names the machine: ``sh -c "exec sleep 30" --machine-id w1``. The
    # deployer saw such machines as gone while booting and failed them.
    provider = LocalProvider(tmp_path / "state", ["sh", "-c", "exec sleep 30"])
    try:
        provider.start("w1")

        assert provider.alive() == {"w1"}
        wait_for(lambda: "w1" not in psutil.Process(provider._children["w1"].pid).cmdline(),
                 "the exec", timeout_s=10.0)
        assert provider.alive() == {"w1"}
    finally:
        provider._children["w1"].kill()
        provider._children["w1"].wait(5)
    assert provider.alive() == set()


def test_a_stopped_machine_finishes_its_work_and_exits_and_is_no_longer_alive(
        make_provider, out_dir):
    provider = make_provider(drain_timeout_s=10.0)
    pid = started(provider, out_dir, "w1")

    provider.stop("w1")

    assert (out_dir / "w1.finished").read_text() == "job done, acked"
    assert gone(pid)
    assert provider.alive() == set()
    assert not (provider.state_dir / "w1.json").exists()


def test_stopping_one_machine_leaves_the_others_running(make_provider, out_dir):
    provider = make_provider()
    started(provider, out_dir, "w1")
    other = started(provider, out_dir, "w2")

    provider.stop("w1")

    assert provider.alive() == {"w2"}
    assert psutil.Process(other).is_running()


def test_a_machine_that_ignores_sigterm_is_killed_after_the_drain_timeout(make_provider, out_dir):
    provider = make_provider(mode="stubborn", drain_timeout_s=0.3)
    pid = started(provider, out_dir, "w1")

    began = time.monotonic()
    provider.stop("w1")
    took = time.monotonic() - began

    assert took >= 0.3
    assert gone(pid)
    assert not (out_dir / "w1.finished").exists()
    assert provider.alive() == set()


def test_a_restarted_deployer_finds_the_running_machines_and_can_stop_them(make_provider, out_dir):
    before_restart = make_provider()
    pid = started(before_restart, out_dir, "w1")

    after_restart = make_provider()

    assert after_restart.alive() == {"w1"}
    after_restart.stop("w1")
    assert (out_dir / "w1.finished").exists()
    assert gone(pid)
    assert after_restart.alive() == before_restart.alive() == set()


def test_a_machine_that_exited_on_its_own_is_not_alive(make_provider, out_dir):
    provider = make_provider()
    pid = started(provider, out_dir, "w1")

    psutil.Process(pid).kill()

    wait_for(lambda: provider.alive() == set(), "w1 to be seen gone", timeout_s=10.0)
    provider.stop("w1")  # stopping what is already gone is fine
    assert not (provider.state_dir / "w1.json").exists()


def test_a_pid_file_whose_pid_now_belongs_to_another_process_is_not_alive_and_never_stopped(
        make_provider):
    provider = make_provider()
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (provider.state_dir / "w9.json").write_text(
            json.dumps({"machine_id": "w9", "pid": stranger.pid, "log": "w9.log"}))

        assert provider.alive() == set()
        provider.stop("w9")
        assert stranger.poll() is None  # the unrelated process was not signalled
    finally:
        stranger.kill()
        stranger.wait(5)


def test_a_pid_file_that_cannot_be_read_is_not_alive(make_provider):
    provider = make_provider()
    (provider.state_dir / "w9.json").write_text("{half a reco")

    assert provider.alive() == set()


def test_a_worker_command_that_cannot_run_is_a_provider_error(tmp_path):
    provider = LocalProvider(tmp_path / "state", [str(tmp_path / "no-such-program")])

    with pytest.raises(ProviderError, match="cannot start worker w1"):
        provider.start("w1")
    assert provider.alive() == set()


def test_the_workers_output_goes_to_its_log_file(tmp_path):
    hello = "import sys; print('hello from', sys.argv[1:])"
    provider = LocalProvider(tmp_path / "state", [sys.executable, "-c", hello])

    pid = pid_of(provider.start("w1"))

    wait_for(lambda: gone(pid), f"worker {pid} to exit", timeout_s=10.0)
    provider.stop("w1")
    assert "hello from ['--machine-id', 'w1']" in (tmp_path / "state" / "w1.log").read_text()
