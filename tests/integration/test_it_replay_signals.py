"""A live replay ended early loses nothing and leaves nothing: stopped by a signal, it cleans
up as at its end; killed with SIGKILL, the next replay on the same fleet removes what it
left, then runs.

Each test starts `imgproc-tui --replay TRACE --backend live` as an operator does (its own
process group, like a shell's job), waits until workers hold jobs and more wait in the
queue, then signals it, and looks afterwards with the services' own tools (psutil,
rabbitmqctl, zkCli.sh) and at the provider's state directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from it_support import BIN, LiveRig, write_trace

from imgproc.adapters.rabbit import RabbitReadyCount
from imgproc.core.machines import MachineState

pytestmark = pytest.mark.services

SIZE = 2  # workers of the constantsize policy: jobs wait in the queue meanwhile


def start_replay(rig: LiveRig, name: str, jobs: int) -> subprocess.Popen:
    """A live replay of ``jobs`` jobs, one every 0.2 s, each 1 s long (5 a second arrive, 2
    a second are served), in its own process group."""
    trace = rig.tmp_path / f"{name}.jsonl"
    write_trace(trace, jobs, every_s=0.2, service_s=1.0, prefix=name)
    return rig.popen([str(BIN / "imgproc-tui"), "--replay", str(trace), "--backend", "live",
                      "--policy", "constantsize", "--param", f"size={SIZE}", "--json"])


def wait_for_jobs_in_flight(rig: LiveRig, replay: subprocess.Popen) -> None:
    def busy_with_more_waiting() -> bool:
        if replay.poll() is not None:
            rig.check(False, f"the replay ended early: {outputs(replay)}")
        busy = [m for m in rig.machines(MachineState.RUNNING) if m.current_job]
        return bool(busy) and rig.queue_messages().get(rig.rabbit.jobs_queue, 0) > len(busy)

    rig.wait_for(busy_with_more_waiting, "a worker on a job with more jobs queued", 40)


def outputs(replay: subprocess.Popen, timeout_s: float = 30) -> str:
    out, err = replay.communicate(timeout=timeout_s)
    return f"exit {replay.returncode}\nstdout:\n{out}\nstderr:\n{err[-6000:]}"


def components(rig: LiveRig) -> list[psutil.Process]:
    """Live deployer and scaler processes running on the test's ZooKeeper root."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if (proc.info["status"] != psutil.STATUS_ZOMBIE and "imgproc.cli" in cmdline
                    and {"deployer", "scaler"} & set(cmdline)
                    and rig.zk.root in proc.environ().get("IMGPROC_ZK", "")):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def claims(rig: LiveRig) -> list[Path]:
    return sorted((rig.state_dir / "replays").glob("*.json"))


def messages(rig: LiveRig) -> dict[str, int]:
    """Messages in each queue of the test's vhost that has some, as the broker counts them
    now (rabbitmqctl's counts may lag by seconds); every connection of the replay is closed
    by then, so none is held unacknowledged. The kept results stay on purpose."""
    counts = {}
    for name in rig.queue_messages():
        if not name.startswith("amq.gen-") and name != rig.rabbit.kept_results_queue:
            counter = RabbitReadyCount(rig.rabbit, queue=name)
            counts[name] = counter.ready()
            counter.close()
    return {name: n for name, n in counts.items() if n}


def imgproc_queues(rig: LiveRig) -> set[str]:
    r = rig.rabbit
    return {r.jobs_queue, r.dead_letter_queue, r.deployer_queue, r.callback_queue,
            r.kept_results_queue}


def what_is_left(rig: LiveRig) -> dict[str, object]:
    """Everything a replay could leave behind, by kind; empty lists and dicts when nothing."""
    return {
        "worker processes": [p.pid for p in rig.worker_processes()],
        "deployer and scaler processes": [p.pid for p in components(rig)],
        "machine nodes": rig.zk_machine_nodes(),
        "messages": messages(rig),
        "queues besides imgproc's own": sorted(
            name for name in set(rig.queue_messages()) - imgproc_queues(rig)
            if not name.startswith("amq.gen-")),
        "claims": [p.name for p in claims(rig)],
    }


NOTHING = {"worker processes": [], "deployer and scaler processes": [], "machine nodes": [],
           "messages": {}, "queues besides imgproc's own": [], "claims": []}


@pytest.mark.parametrize(("sig", "to_group"), [
    (signal.SIGTERM, False),  # kill PID
    (signal.SIGTERM, True),   # timeout(1): the deployer and the scaler get it too
    (signal.SIGINT, True),    # ctrl-c at the terminal
    (signal.SIGHUP, True),    # the terminal went away
], ids=["sigterm", "sigterm-group", "sigint-group", "sighup-group"])
def test_a_signalled_replay_exits_promptly_and_leaves_nothing_behind(rig, sig, to_group):
    replay = start_replay(rig, "signalled", jobs=60)
    wait_for_jobs_in_flight(rig, replay)

    signalled_at = time.monotonic()
    (os.killpg if to_group else os.kill)(replay.pid, sig)
    told = outputs(replay)
    took = time.monotonic() - signalled_at

    rig.check(replay.returncode == 128 + sig, f"not the exit of a signalled command: {told}")
    assert took < 20, f"took {took:.1f} s to stop\n{told}"
    assert f"{sig.name}: replay stopped after" in told, told
    assert what_is_left(rig) == NOTHING, told


def test_the_replay_after_one_killed_with_sigkill_removes_what_it_left_then_runs(rig):
    killed = start_replay(rig, "killed", jobs=100)
    wait_for_jobs_in_flight(rig, killed)
    killed.kill()  # SIGKILL to the replay alone, as `kill -9 PID`
    killed.communicate(timeout=10)

    rig.wait_for(lambda: not components(rig), "the killed replay's deployer and scaler to stop",
                 timeout_s=10)
    left = what_is_left(rig)
    assert left["worker processes"] and left["machine nodes"] and left["messages"], left
    assert left["messages"].get(rig.rabbit.jobs_queue) and len(left["claims"]) == 1, left

    after = start_replay(rig, "after", jobs=10)
    told = outputs(after, timeout_s=90)
    rig.check(after.returncode == 0, f"the next replay failed: {told}")
    summary = json.loads(told.split("stdout:\n", 1)[1].split("\nstderr:", 1)[0].strip())
    assert summary["jobs_completed"] == 10 and summary["jobs_lost"] == 0, told
    assert "ended without cleaning up: removed its" in told, told
    assert what_is_left(rig) == NOTHING, told

