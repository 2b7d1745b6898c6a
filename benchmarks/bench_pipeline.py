"""Pipeline overhead: zero-work jobs per second end to end through real ``imgproc worker``
processes, against raw pika publish/consume on the same broker, measured in the same run.

imgproc: one process submits ``--jobs`` zero-work jobs (``service_s=0``) with
:class:`RabbitJobPublisher` (persistent, confirmed, one at a time); N real
``python -m imgproc.cli worker --machine-id ID`` processes serve them (each
registers in ZooKeeper under an isolated root, records every job it holds in
its machine record, publishes a confirmed result, acks); the benchmark
receives the results on a durable :class:`RabbitResultFeed`. The clock runs
from the first publish to the last result received.

raw pika: the same number of messages with the same bodies, published by one
process with pika (persistent, ``confirm_delivery``, one at a time) to a
durable queue, once a classic queue and once a quorum queue (imgproc's jobs queue is
a quorum queue, which replicates and syncs to disk), consumed by N processes running
a bare pika consumer (prefetch 1, manual ack, nothing else). The clock runs from the
first publish to the last ack.

The two alternate, for each N, so that a noisy neighbour hurts both; the
summary gives each one's best round and their ratio, and each round's ratio. Every
queue, exchange and ZooKeeper node is isolated by a random prefix and removed
at the end, whatever happens. The goal: imgproc at least half raw pika's rate.

``--breakdown`` also runs N *instrumented* workers (the same adapters and
:class:`~imgproc.core.worker.Worker` as ``imgproc worker``, each port wrapped
in a timer, in processes of this script) and prints where a job's time goes,
and what-if rates with parts of the per-job work removed (no ZooKeeper
progress writes; a result published without waiting for its confirm).

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--jobs 3000] [--workers 2,4]
[--rounds 3] [--breakdown]``
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import sys
from collections import defaultdict

import pika
from live_run import print_date_and_machine, sigterm_raises_interrupt
from pipeline_breakdown import breakdown_round, print_breakdown
from pipeline_rig import RAW_QUEUE_TYPES, Bench, Measured

from imgproc.adapters.zk.client import connected
from imgproc.settings import Settings

GOAL = 0.5


def broker_version(url: str) -> str:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        props = connection._impl.server_properties  # private, but only for the report
        return props.get("version", b"?").decode() if isinstance(props.get("version"), bytes) \
            else str(props.get("version", "?"))
    finally:
        connection.close()


def zk_version(settings: Settings) -> str:
    with connected(settings.zk) as client:
        try:
            return client.command(b"srvr").splitlines()[0].split(":", 1)[1].strip().split("-")[0]
        except Exception:  # noqa: BLE001 - four-letter words may be disabled
            return "?"


def cpu_line(m: Measured) -> str:
    """CPU milliseconds per job by process group, and how busy the machine's CPUs were."""
    if not m.cpu:
        return ""
    parts = [f"{name} {1000 * sec / m.jobs:.2f}" for name, sec in m.cpu.items()]
    total = sum(m.cpu.values())
    cpus = len(os.sched_getaffinity(0))
    return (f"CPU ms per job: {', '.join(parts)}; total {1000 * total / m.jobs:.2f} "
            f"(= {100 * total / (m.seconds * cpus):.0f}% of {cpus} CPUs over the batch)")


def print_table(results: dict[tuple[str, int], list[Measured]], counts: list[int]) -> None:
    """imgproc against raw pika on each kind of queue: best rounds, and round by round."""
    print("| N | imgproc jobs/s (best) | raw pika on | raw jobs/s (best) | ratio of bests | "
          "ratio per round (median) | goal >= 0.5 |")
    print("|---|---|---|---|---|---|---|")
    for n in counts:
        ours = [m.rate for m in results[("imgproc", n)]]
        for kind in RAW_QUEUE_TYPES:
            raw = [m.rate for m in results[(f"raw {kind}", n)]]
            paired = [o / r for o, r in zip(ours, raw, strict=True)]
            best = max(ours) / max(raw)
            print(f"| {n} | {max(ours):,.0f} | a {kind} queue | {max(raw):,.0f} | {best:.2f} | "
                  f"{', '.join(f'{x:.2f}' for x in paired)} ({statistics.median(paired):.2f}) | "
                  f"{'met' if best >= GOAL else 'NOT met'} |")
    print("(best: the fastest round of each, since other load only slows a run down; "
          "per round: imgproc/raw measured back to back)")
    for n in counts:
        for kind in RAW_QUEUE_TYPES:
            if all(m.publish_seconds > 0.9 * m.seconds for m in results[(f"raw {kind}", n)]):
                print(f"note: with N={n} on a {kind} queue, raw pika's end-to-end time is its "
                      f"publisher's: one confirmed publish at a time is the limit there")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=3000, help="messages per measured batch [3000]")
    parser.add_argument("--workers", default="2,4", help="comma-separated worker counts [2,4]")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds per worker count [3]")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured messages first [100]")
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers' logs")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time each stage of an instrumented worker, and what-if variants")
    args = parser.parse_args()
    counts = [int(x) for x in args.workers.split(",") if x]

    bench = Bench()
    sigterm_raises_interrupt()
    print_date_and_machine(f", pika {pika.__version__}")
    print(f"services:  RabbitMQ {broker_version(bench.url)} at {bench.settings.rabbit.safe_url}, "
          f"ZooKeeper {zk_version(bench.settings)} at {bench.settings.zk.hosts}")
    print(f"params:    {args.jobs} zero-work jobs per batch (+{args.warmup} warm-up), "
          f"workers {counts}, {args.rounds} round(s); isolation prefix bench-{bench.run_id}., "
          f"ZooKeeper root {bench.settings.zk.root}")
    print(flush=True)
    results: dict[tuple[str, int], list[Measured]] = defaultdict(list)
    try:
        rounds = [functools.partial(bench.raw_round, queue_type=kind) for kind in RAW_QUEUE_TYPES]
        rounds.append(bench.imgproc_round)
        for r in range(args.rounds):
            for n in counts:
                order = rounds if r % 2 == 0 else rounds[::-1]
                for fn in order:
                    m = fn(n, args.jobs, args.warmup)
                    results[(m.kind, n)].append(m)
                    print(f"  round {r + 1}: {m.kind:<9} N={n}: {m.jobs} jobs in "
                          f"{m.seconds:6.2f} s = {m.rate:7.1f} jobs/s (publishing alone took "
                          f"{m.publish_seconds:.2f} s = {m.jobs / m.publish_seconds:.0f}/s)")
                    print(f"           {cpu_line(m)}", flush=True)
        print()
        print_table(results, counts)
        if args.breakdown:
            for n in counts:
                print()
                print(f"breakdown, N={n} instrumented workers:")
                for variant in ("as-is", "no-zk", "no-confirm"):
                    m, reports = breakdown_round(bench, n, args.jobs, variant)
                    raw = max(r.rate for r in results[("raw quorum", n)])
                    print(f" variant {variant}: {m.rate:,.0f} jobs/s end to end "
                          f"(= {m.rate / raw:.2f}x the best raw pika quorum round above)")
                    print(f"  {cpu_line(m)}")
                    print_breakdown(m, reports)
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        problems = bench.clean()
        for p in problems:
            print(f"cleanup problem: {p}", file=sys.stderr)
        keep = args.keep_logs or bool(problems) or sys.exc_info()[0] is not None
        if not keep:
            shutil.rmtree(bench.log_dir, ignore_errors=True)
        logs_kept = f"; worker logs kept in {bench.log_dir}" if keep else ""
        print(f"\ncleaned up: queues and exchange bench-{bench.run_id}.*, ZooKeeper root "
              f"{bench.settings.zk.root}{logs_kept}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
