"""``--breakdown`` of the pipeline benchmark (bench_pipeline.py): instrumented workers (the
same adapters and Worker as ``imgproc worker``, each port wrapped in a timer, in processes
of the benchmark), where a job's time goes, and what-if variants.
"""

from __future__ import annotations

import signal
import time
from collections import defaultdict

import psutil
from pipeline_processes import SPAWN, consumer_count, wait_for
from pipeline_rig import Bench, Measured

from imgproc.settings import Settings

STAGES = ("wait for delivery", "progress: job_started", "execute (0 s)", "publish result", "ack",
          "progress: job_finished")


def instrumented_worker(settings: Settings, machine_id: str, variant: str, stop, out) -> None:
    """The worker ``bootstrap.processes.build_worker`` wires (the same runner thread and
    progress thread), its ports timed, and changed as ``variant`` says."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from imgproc.adapters.memory.registry import (
        MemoryLiveness,
        MemoryMachineRegistry,
        MemorySession,
        MemoryWorkerBoard,
    )
    from imgproc.adapters.rabbit import RabbitJobSource, RabbitResultSink
    from imgproc.bootstrap.processes import build_worker

    totals: dict[str, float] = defaultdict(float)
    jobs = [0]
    pc = time.perf_counter

    def timed(name, fn):
        def wrapper(*a, **kw):
            t = pc()
            try:
                return fn(*a, **kw)
            finally:
                totals[name] += pc() - t
        return wrapper

    class TimedDelivery:
        def __init__(self, d):
            self._d, self.body, self.redelivered = d, d.body, d.redelivered

        def ack(self):
            timed("ack", self._d.ack)()

        def dead_letter(self, reason):
            self._d.dead_letter(reason)

    class TimedSource:
        def __init__(self, s):
            self._s = s

        def next_delivery(self, timeout_s):
            d = timed("wait for delivery", self._s.next_delivery)(timeout_s)
            if d is None:
                return None
            jobs[0] += 1
            return TimedDelivery(d)

        def keep_alive(self):
            timed("keep alive", self._s.keep_alive)()

    class TimedSink:
        def __init__(self, s):
            self._s = s

        def publish_result(self, result):
            timed("publish result", self._s.publish_result)(result)

        def keep_alive(self):
            self._s.keep_alive()

    class UnconfirmedSink:
        """The result published on a channel without confirms (what-if only)."""

        def __init__(self, rabbit):
            from imgproc.adapters.rabbit.connection import RabbitLink
            self._link = RabbitLink(rabbit, "unconfirmed-sink")
            self._exchange = rabbit.results_exchange

        def publish_result(self, result):
            self._link.publish("result", self._exchange, "", result.encode(),
                               message_id=result.job_id, mandatory=False)

        def keep_alive(self):
            self._link.keep_alive("keeping the result connection alive")

        def close(self):
            self._link.close()

    source = RabbitJobSource(settings.rabbit, role=f"worker {machine_id}")
    sink = (UnconfirmedSink(settings.rabbit) if variant == "no-confirm"
            else RabbitResultSink(settings.rabbit))
    in_memory = ({"registry": MemoryMachineRegistry(),
                  "liveness": MemoryLiveness(MemoryWorkerBoard(), MemorySession())}
                 if variant == "no-zk" else {})
    live = build_worker(settings, machine_id, stop, source=TimedSource(source),
                        sink=TimedSink(sink), **in_memory)
    worker = live.worker
    worker.simulated_work.execute = timed("execute (0 s)", worker.simulated_work.execute)
    if worker.listener is not None:
        worker.listener.job_started = timed("progress: job_started", worker.listener.job_started)
        worker.listener.job_finished = timed("progress: job_finished",
                                             worker.listener.job_finished)
    started = pc()
    live.run(stop)
    wall = pc() - started
    source.close()
    sink.close()
    out.put((machine_id, jobs[0], wall, dict(totals)))


def breakdown_round(bench: Bench, n: int, count: int, variant: str) -> tuple[Measured, list]:
    feed = bench.start_feed()
    tag = bench.next_run("b", n)
    stop, out = SPAWN.Event(), SPAWN.Queue()
    procs = [SPAWN.Process(target=instrumented_worker,
                           args=(bench.settings, f"bench-{tag}-{variant}-w{i}", variant, stop, out))
             for i in range(n)]
    for p in procs:
        p.start()
    try:
        wait_for(lambda: consumer_count(bench.url, bench.settings.rabbit.jobs_queue) >= n,
                 f"{n} instrumented workers", 60)
        bench._imgproc_batch(feed, tag + "w", 100, n)
        consumers = [psutil.Process(p.pid) for p in procs]
        measured = bench._imgproc_batch(feed, tag, count, n, measured=True, consumers=consumers)
    finally:
        stop.set()
    reports = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(10)
    measured.kind = f"instrumented ({variant})"
    return measured, reports


def print_breakdown(measured: Measured, reports: list) -> None:
    jobs = sum(r[1] for r in reports)
    totals: dict[str, float] = defaultdict(float)
    for _, _, _, t in reports:
        for k, v in t.items():
            totals[k] += v
    wall = sum(r[2] for r in reports)
    print(f"  per job, averaged over {len(reports)} workers and {jobs} deliveries "
          f"(warm-up included; 'wait' includes idle time before and after the batch):")
    accounted = 0.0
    for stage in STAGES:
        if stage in totals:
            ms = 1000 * totals[stage] / jobs
            accounted += totals[stage]
            print(f"    {stage:<26} {ms:7.3f} ms")
    busy = sum(v for k, v in totals.items() if k != "wait for delivery")
    print(f"    {'other (worker loop)':<26} {1000 * (wall - accounted) / jobs:7.3f} ms")
    print(f"    busy per job (all but wait) {1000 * busy / jobs:6.3f} ms "
          f"-> at most {len(reports) / (busy / jobs):,.0f} jobs/s for {len(reports)} workers "
          f"if never waiting")

