"""The live console ended by a signal closes as its quit dialog's "destroy machines" does:
no worker, deployer or scaler process is left, and every machine is destroyed.

The console runs as an operator runs it: `imgproc-tui --backend live` in its own session,
on a pseudo-terminal (Textual needs one), whose output is read and dropped.
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import threading
import time

import pytest
from it_support import BIN, LiveRig
from test_it_replay_signals import components

from imgproc.core.machines import MachineState

pytestmark = pytest.mark.services


def start_console(rig: LiveRig) -> subprocess.Popen:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [str(BIN / "imgproc-tui"), "--backend", "live", "--policy", "constantsize",
         "--param", "size=1"],
        cwd=rig.tmp_path, env={**rig.env(), "TERM": "xterm-256color"}, stdin=follower,
        stdout=follower, stderr=follower, start_new_session=True)
    os.close(follower)
    threading.Thread(target=_drain, args=(leader,), daemon=True).start()
    rig.popens.append(proc)
    return proc


def _drain(fd: int) -> None:
    """Read the console's screen until it closes (a full pty would block it)."""
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["sigterm", "sighup"])
def test_a_signalled_live_console_destroys_its_machines_and_stops_its_processes(rig, sig):
    console = start_console(rig)
    rig.wait_for(lambda: rig.machines(MachineState.RUNNING) and rig.worker_processes(),
                 "the console's scaler to get a worker running", 40)

    signalled_at = time.monotonic()
    os.killpg(console.pid, sig)
    code = console.wait(timeout=60)
    took = time.monotonic() - signalled_at

    assert code == 128 + sig, f"exit {code}"
    assert took < 30, f"took {took:.1f} s to close"
    assert rig.worker_processes() == [] and components(rig) == []
    assert rig.registry.machines() == []
