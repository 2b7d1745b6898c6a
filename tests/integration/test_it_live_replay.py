"""A live replay end to end: `imgproc-tui --replay TRACE --backend live`, as an operator runs it."""

from __future__ import annotations

import json
import subprocess

import pytest
from it_support import BIN, write_trace

pytestmark = pytest.mark.services

JOBS = 120
SPEED = 6.0


def test_live_replay_completes_every_job_and_leaves_nothing_behind(rig):
    # 30 s of arrivals (4 jobs/s, 0.6 s each) played at speed 6: about 5 s of submitting.
    trace = rig.tmp_path / "small.jsonl"
    write_trace(trace, JOBS, every_s=0.25, service_s=0.6)
    proc = rig.popen([str(BIN / "imgproc-tui"), "--replay", str(trace), "--backend", "live",
                      "--speed", str(SPEED), "--json"])
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        rig.check(False, f"the live replay did not finish within 120 s\nstdout:\n{out}\n"
                         f"stderr:\n{err[-6000:]}")
    told = f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err[-6000:]}"
    rig.check(proc.returncode == 0, f"the replay failed: {told}")
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["backend"] == "live", told
    assert summary["jobs_submitted"] == JOBS, told
    assert summary["jobs_completed"] == JOBS, told
    assert summary["jobs_lost"] == 0 and summary["jobs_failed"] == 0, told
    assert summary["machines_peak"] >= 1, told

    # Nothing left: no worker process, no message, no machine znode.
    assert rig.worker_processes() == [], told
    queues = rig.queue_messages()
    assert {rig.rabbit.jobs_queue, rig.rabbit.deployer_queue} <= set(queues), queues
    assert rig.messages_left() == {}, f"messages left: {queues}\n{told}"
    assert rig.zk_machine_nodes() == [], told
    assert list(rig.state_dir.glob("*.json")) == [], "pid files left behind"
