"""The simulator predicts the live system: `imgproc calibrate` measures this host's live
costs into a profile (once for the module), and `imgproc fidelity` plays one short trace
live (local workers, on the trace's clock at speed 5) and in the simulator with that
profile, and the two agree.

The profile is this host's, not the shipped `local` one: machines of the same kind differ
(a worker started in 0.20 s on the one that made `local.json`, in 0.63 s on another),
and ten trace seconds per wall second turn that into seconds of a cold start. Speed 5
keeps the trace's busiest step at 60 jobs a wall second; at speed 10 (120 a second) the
slower of those 2-core machines could not serve it beside its broker, and the live run
lagged behind the trace (p50 16 s against 5 s simulated).

The tolerance is wider than the 10 % goal of docs/fidelity.md, for two reasons: the
trace is short (three minutes of trace time, so one machine more or less for one round is
several per cent of its VM-seconds), and the suite runs on a loaded 2-core machine,
where a worker's start (Python on a busy core) varies by a second of wall time, five trace
seconds at speed 5. The figures at the goal's length are in docs/fidelity.md.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from it_support import BIN, LiveRig

pytestmark = [pytest.mark.services, pytest.mark.exclusive]  # live timings against the simulator's

TOLERANCE = 0.30


def write_steps(path, steps: list[tuple[float, float]], service_s: float) -> int:
    """``(seconds, jobs per second)`` steps of evenly spaced jobs; returns the job count."""
    at, n = 0.0, 0
    with path.open("w") as out:
        for duration, rate in steps:
            for i in range(int(duration * rate)):
                out.write(json.dumps({"id": f"job-{n:05d}", "at": round(at + i / rate, 3),
                                      "service_s": service_s}) + "\n")
                n += 1
            at += duration
    return n


def run(rig, args: list[str], timeout_s: float) -> str:
    proc = rig.popen(args)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    rig.check(proc.returncode == 0,
              f"{args[0]} failed (exit {proc.returncode})\nstdout:\n{out}\nstderr:\n{err[-6000:]}")
    return out


@pytest.fixture(scope="module")
def calibrated(services, tmp_path_factory) -> dict:
    """This host's profile, measured once: its file and its contents."""
    base_rabbit, base_zk, admin = services
    rig = LiveRig(base_rabbit, base_zk, admin, tmp_path_factory.mktemp("calibrate"))
    try:
        out_file = rig.tmp_path / "here.json"
        run(rig, [str(BIN / "imgproc"), "calibrate", "--out", str(out_file), "--starts", "1,3",
                  "--jobs", "40"], 180)
        return {"file": out_file, "profile": json.loads(out_file.read_text())}
    finally:
        rig.close()


def test_a_short_trace_live_at_speed_5_agrees_with_the_simulator_and_this_hosts_profile(
        rig, calibrated):
    trace = rig.tmp_path / "steps.jsonl"
    jobs = write_steps(trace, [(60, 4.0), (60, 12.0), (60, 4.0)], service_s=0.5)

    out = run(rig, [str(BIN / "imgproc"), "fidelity", str(trace), "--policy", "slo",
                    "--speed", "5", "--boot-delay", "20", "--slo", "2",
                    "--profile", str(calibrated["file"]), "--tolerance", str(TOLERANCE),
                    "--json"], 240)

    report = json.loads(out)
    live, simulated = report["live"], report["simulated"]
    told = json.dumps(report["differences"], indent=1)
    assert live["jobs_completed"] == jobs and live["jobs_lost"] == 0, told
    assert live["speed"] == 5.0 and simulated["speed"] is None
    assert live["duration_s"] == pytest.approx(simulated["duration_s"], rel=0.1), told
    print(told)
    for metric in ("response_p95_s", "vm_seconds", "machines_peak", "machines_mean"):
        assert report["differences"][metric]["within"], f"{metric}: {told}"


def test_calibrate_measures_the_live_system_into_a_profile_the_simulator_takes(rig, calibrated):
    profile, out_file = calibrated["profile"], calibrated["file"]
    assert profile["provider"] == "local"
    # a worker is a Python process that connects to RabbitMQ and ZooKeeper: tenths of a
    # second at least, never minutes; jobs take milliseconds to hand over
    assert 0.05 < profile["start_s"] < 30, profile
    assert 0 <= profile["dispatch_s"] < 1 and 0 <= profile["job_overhead_s"] < 1, profile
    one = rig.tmp_path / "one.jsonl"
    write_steps(one, [(1, 1.0)], service_s=1.0)
    alone = json.loads(run(rig, [str(BIN / "imgproc-tui"), "--replay", str(one),
                                 "--boot-delay", "30", "--cold-start", "--json"], 60))
    profiled = json.loads(run(rig, [str(BIN / "imgproc-tui"), "--replay", str(one),
                                    "--boot-delay", "30", "--cold-start", "--profile",
                                    str(out_file), "--json"], 60))
    # started cold, the job waits in the queue for the first worker: its start comes on top
    extra = profiled["response_max_s"] - alone["response_max_s"]
    assert extra == pytest.approx(profile["start_s"], abs=1e-3)
