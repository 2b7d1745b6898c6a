"""Replaying a big trace end to end: ``imgproc-tui --replay`` on a generated million-job
trace as a user runs it, against a bare ``heapq`` replay of the same jobs, measured in
the same run.

The trace (normal shape, 5 jobs/s for 200,000 s, seed 1) is generated once, as
``imgproc workload generate`` makes it, and kept in the temporary folder (or given by
``--trace``). Then:

* the whole command, in a child process, with its standard error on a pseudo-terminal as
  at a user's terminal (the progress bar is drawn): wall time, and the child's own peak
  RSS (``wait4``);
* in this process, its parts: reading and validating the trace, the simulator alone, the
  summary;
* the baselines, the least replay a user could write by hand (``bare_replay.py``): the
  file read a line at a time, with the standard library's ``json.loads`` or with
  msgspec, then a bare ``heapq`` loop, each job's arrival and end pushed onto and popped
  from one heap, first come first served by as many servers as the run's peak fleet.
  Each is run as the command is, end to end; the loop alone is timed in this process.
  The command's ratio to each is printed: which one the goal means is for its reader
  (docs/benchmarks.md).

The trace must be in imgproc's format (a seed log converts with ``imgproc workload
convert``). A run that fails makes the benchmark exit non-zero.

Run: ``.venv/bin/python benchmarks/bench_replay.py [--trace FILE] [--policy NAME] [--runs N]``
"""

from __future__ import annotations

import argparse
import os
import platform
import pty
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bare_replay import timed_loop
from machine import cpu_model

from imgproc.adapters.trace_files import read_trace, write_trace
from imgproc.bootstrap.sim import build_simulation, summarise_run
from imgproc.core.workload_gen import generate, make_spec
from imgproc.settings import Settings, load_settings

SHAPE, RATE, DURATION_S, SEED = "normal", 5.0, 200_000.0, 1
GOAL_S, GOAL_RATIO, GOAL_RSS_MB = 10.0, 2.0, 1024.0
BARE_REPLAY = Path(__file__).with_name("bare_replay.py")
READERS = ("json", "msgspec")


@dataclass
class CommandRun:
    wall_s: float
    peak_rss_mb: float
    exit_code: int


def cached_trace() -> Path:
    """The benchmark's trace, generated on first use into the temporary folder."""
    path = Path(tempfile.gettempdir()) / f"imgproc-bench-{SHAPE}-{DURATION_S:.0f}s-{RATE:g}.jsonl"
    if not path.exists():
        spec = make_spec(shape=SHAPE, duration_s=DURATION_S, rate=RATE, seed=SEED)
        write_trace(generate(spec), path)
    return path


def run_command(argv: list[str]) -> CommandRun:
    """Run ``argv`` with its standard error on a pseudo-terminal; its wall time and peak RSS.

    The child is reaped with ``wait4`` so that its own peak RSS is read, not the largest
    of every child this process ever had.
    """
    controller, terminal = pty.openpty()
    reader = threading.Thread(target=_drain, args=(controller,), daemon=True)
    reader.start()
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=terminal)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    os.close(terminal)
    reader.join()
    return CommandRun(wall, usage.ru_maxrss / 1024, child.returncode)


def _drain(fd: int) -> None:
    """Read the pseudo-terminal until the child's side is closed, as a terminal would."""
    try:
        while os.read(fd, 65536):
            pass
    except OSError:  # EIO: every writer has gone
        pass
    finally:
        os.close(fd)


def parts(path: Path, settings: Settings) -> dict[str, float]:
    """The command's parts timed in this process, and the bare loop over the same jobs."""
    t0 = time.perf_counter()
    trace = read_trace(path).trace
    t1 = time.perf_counter()
    sim = build_simulation(settings, trace)
    record = sim.run()
    t2 = time.perf_counter()
    summary = summarise_run(settings, trace, record).summary
    t3 = time.perf_counter()
    bare = timed_loop(trace.arrival_s.tolist(), trace.service_s.tolist(),
                      max(1, int(summary["machines_peak"])))
    return {"jobs": len(trace), "read": t1 - t0, "simulate": t2 - t1, "summarise": t3 - t2,
            "bare": bare, "machines_peak": summary["machines_peak"]}


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", type=Path, help="replay this trace instead of the generated one")
    parser.add_argument("--policy", default="slo")
    parser.add_argument("--runs", type=_at_least_one, default=1,
                        help="times the whole command is run (at least 1)")
    args = parser.parse_args()
    trace = args.trace or cached_trace()
    command = [str(Path(sys.executable).with_name("imgproc-tui")), "--replay", str(trace),
               "--policy", args.policy]
    load_before = os.getloadavg()[0]
    runs = [run_command(command) for _ in range(args.runs)]
    timed = parts(trace, load_settings(policy=args.policy))  # as the command loads them
    servers = str(max(1, int(timed["machines_peak"])))
    baselines = {reader: [run_command([sys.executable, str(BARE_REPLAY), str(trace), servers,
                                       "--reader", reader]) for _ in range(args.runs)]
                 for reader in READERS}
    loads = (load_before, os.getloadavg()[0])
    report(trace, ["imgproc-tui", *command[1:]], runs, baselines, timed, loads)
    every = [*runs, *(r for bare_runs in baselines.values() for r in bare_runs)]
    failed = [r for r in every if r.exit_code != 0]
    if failed:
        sys.exit(f"{len(failed)} run(s) failed: the figures above do not count")


def report(trace: Path, command: list[str], runs: list[CommandRun],
           baselines: dict[str, list[CommandRun]], timed: dict[str, float],
           loads: tuple[float, float]) -> None:
    best = min(runs, key=lambda r: r.wall_s)
    bare = timed["bare"]
    print(f"date:             {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine:          {cpu_model()}, {os.cpu_count()} cores, "
          f"{platform.python_implementation()} {platform.python_version()}, "
          f"load average {loads[0]:.1f} before, {loads[1]:.1f} after")
    print(f"trace:            {trace} ({timed['jobs']:,} jobs, "
          f"{trace.stat().st_size / 1e6:.0f} MB)")
    print(f"command:          {' '.join(command)}")
    print(f"whole command:    {_walls(runs)}; peak RSS "
          f"{max(r.peak_rss_mb for r in runs):.0f} MB")
    print(f"  in-process:     read {timed['read']:.2f} s, simulate {timed['simulate']:.2f} s, "
          f"summarise {timed['summarise']:.2f} s")
    for reader, bare_runs in baselines.items():
        fastest = min(r.wall_s for r in bare_runs)
        print(f"bare replay, {reader + ':':<8} {_walls(bare_runs)}; the command is "
              f"{best.wall_s / fastest:.2f}x it")
    print(f"its loop alone:   {bare:.2f} s ({timed['machines_peak']:.0f} servers, first come "
          f"first served); the command is {best.wall_s / bare:.2f}x it, the simulator alone "
          f"{timed['simulate'] / bare:.2f}x")
    print(f"goal:             under {GOAL_S:.0f} s, at most {GOAL_RATIO:.0f}x the bare loop, "
          f"under {GOAL_RSS_MB:.0f} MB")


def _walls(runs: list[CommandRun]) -> str:
    return ", ".join(f"{r.wall_s:.2f} s" + (f" (exit {r.exit_code})" if r.exit_code else "")
                     for r in runs)


if __name__ == "__main__":
    main()
