"""Reaction: how fast the live system brings a new worker to a burst, and how it scales back.

Starts ``imgproc deployer`` (local provider, boot delay 0) and ``imgproc scaler
--policy slo --interval 2`` as child processes with isolated settings (queue
and exchange names under a random prefix, their own ZooKeeper root, their own
state directory), feeds a steady light load of simulated jobs, and then, in
each repetition, a burst. It measures:

* reaction: from the burst's first job (its publish) to the first job started
  by a worker that did not exist when the burst began (results carry the
  worker's id and the time it started the job), split into: waiting for the
  scaler's round (the new machine's ``requested_at``), the deployer starting
  it (its ``booting`` report), the worker process coming up (its
  ``ready_at``), and the first job. The baseline it is compared with is the
  bound "one decision interval + 2 s", computed from the same run's interval.
* scale-down: from the burst's last job until the backlog is served, until
  the fleet is back to its size before the burst (the last release), and
  until every released machine is destroyed; and each released machine's
  drain (``draining`` to ``destroyed`` as the deployer reports them).

Cleanup, whatever happens: stop the scaler, destroy every machine through the
deployer (each drains), stop the deployer, kill any worker still listed in
the isolated state directory, delete the isolated queues, exchange and
ZooKeeper root.

Run: ``.venv/bin/python benchmarks/bench_reaction.py [--reps 3] [--policy slo]
[--interval 2] [--steady-rate 2] [--burst-rate 25] [--burst-s 15] [--service 0.2]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys

from live_run import print_date_and_machine, sigterm_raises_interrupt
from reaction_report import Rep, fmt
from reaction_rig import Bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="bursts [3]")
    parser.add_argument("--policy", default="slo", help="scaler policy [slo]")
    parser.add_argument("--interval", type=float, default=2.0, help="scaler interval, s [2]")
    parser.add_argument("--steady-rate", type=float, default=2.0, help="light load, jobs/s [2]")
    parser.add_argument("--burst-rate", type=float, default=25.0, help="burst load, jobs/s [25]")
    parser.add_argument("--burst-s", type=float, default=15.0, help="burst length, s [15]")
    parser.add_argument("--service", type=float, default=0.2,
                        help="simulated service time, s [0.2]")
    parser.add_argument("--steady-s", type=float, default=10.0,
                        help="one worker, steady, this long before each burst [10]")
    parser.add_argument("--max-workers", type=int, default=10, help="scaler's max_workers [10]")
    parser.add_argument("--drain-timeout", type=float, default=30.0,
                        help="provider drain timeout, s [30]")
    parser.add_argument("--settle-timeout", type=float, default=180.0,
                        help="give up waiting for a steady fleet after this, s [180]")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the deployer, scaler and worker logs")
    args = parser.parse_args()
    sigterm_raises_interrupt()

    bench = Bench(args)
    s = bench.settings
    print_date_and_machine()
    print(f"services:  {s.rabbit.safe_url}, ZooKeeper {s.zk.hosts} (root {s.zk.root}), "
          f"queues bench-{bench.run_id}.*")
    print(f"children:  imgproc deployer (local provider, boot delay 0, drain timeout "
          f"{args.drain_timeout:g} s); imgproc {' '.join(bench.scaler_args[:5])} "
          f"(min 1, max {args.max_workers} workers, policy defaults otherwise)")
    print(f"load:      {args.steady_rate:g} jobs/s steady, bursts of {args.burst_rate:g} jobs/s "
          f"for {args.burst_s:g} s, simulated service {args.service:g} s, {args.reps} repetitions, "
          f"{args.steady_s:g} s steady with one worker before each")
    print(f"bound:     one decision interval + 2 s = {args.interval + 2:g} s", flush=True)
    reps: list[Rep] = []
    code = 0
    try:
        reps = bench.run()
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        code = 130
    except Exception as exc:  # noqa: BLE001 - report, clean, fail
        print(f"failed: {exc}", file=sys.stderr)
        code = 1
    finally:
        problems = bench.clean()
        for p in problems:
            print(f"cleanup: {p}", file=sys.stderr)
        keep = args.keep_logs or code != 0 or problems
        if not keep:
            shutil.rmtree(bench.dir, ignore_errors=True)
        print(f"cleaned up: queues and exchange bench-{bench.run_id}.*, ZooKeeper root {s.zk.root}"
              + (f"; logs kept in {bench.dir}" if keep else ""))
    reactions = [r.reaction_s for r in reps if r.reaction_s is not None]
    if reactions:
        bound = args.interval + 2
        print()
        print("| reps | reaction median | min | max | bound (interval + 2 s) | "
              "ratio median/bound | fleet back to size (median) | released destroyed (median) | "
              "drain per machine (median) |")
        print("|---|---|---|---|---|---|---|---|---|")
        backs = [r.back_to_size_s for r in reps if r.back_to_size_s is not None]
        gone = [r.all_destroyed_s for r in reps if r.all_destroyed_s is not None]
        drains = [d for r in reps for d in r.drains]
        med = statistics.median(reactions)
        print(f"| {len(reactions)} | {med:.2f} s | {min(reactions):.2f} s | "
              f"{max(reactions):.2f} s | {bound:g} s | {med / bound:.2f} | "
              f"{fmt(statistics.median(backs) if backs else None)} | "
              f"{fmt(statistics.median(gone) if gone else None)} | "
              f"{fmt(statistics.median(drains) if drains else None)} |")
    return code


if __name__ == "__main__":
    sys.exit(main())
