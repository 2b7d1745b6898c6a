"""The pipeline benchmark's rig (bench_pipeline.py): :class:`Bench` owns the run's isolated
queues, ZooKeeper root, worker processes and result feed, runs the imgproc and raw pika
rounds, and removes everything in :meth:`Bench.clean`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pika
import psutil
from live_run import delete_queues, isolated_settings
from pipeline_processes import (
    SPAWN,
    CpuMeter,
    consumer_count,
    publish_imgproc,
    publish_raw,
    raw_consumer,
    service_processes,
    stop_processes,
    wait_for,
)

from imgproc.adapters.rabbit import RabbitResultFeed
from imgproc.adapters.zk.client import connected
from imgproc.adapters.zk.tree import clear
from imgproc.bootstrap.processes import child_environment

RAW_QUEUE_TYPES = ("classic", "quorum")


@dataclass
class Measured:
    kind: str
    workers: int
    jobs: int
    seconds: float
    publish_seconds: float
    extra: dict | None = None
    cpu: dict | None = None

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


class Bench:
    """Owns everything the run creates, and removes it in :meth:`clean`."""

    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self.settings = isolated_settings(self.run_id)
        self.url = self.settings.rabbit.url
        self.raw_queues = {kind: f"bench-{self.run_id}.raw-{kind}" for kind in RAW_QUEUE_TYPES}
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"imgproc-bench-{self.run_id}-"))
        self.worker_procs: list[subprocess.Popen] = []
        self.feed: RabbitResultFeed | None = None
        self.seq = 0

    def next_run(self, kind: str, workers: int) -> str:
        self.seq += 1
        return f"{kind}{workers}-{self.seq}"

    # ---- imgproc
    def start_feed(self) -> RabbitResultFeed:
        if self.feed is None:
            self.feed = RabbitResultFeed(self.settings.rabbit, durable=True)
        return self.feed

    def start_workers(self, n: int, tag: str) -> list[subprocess.Popen]:
        env = child_environment(self.settings)
        procs = []
        for i in range(n):
            machine_id = f"bench-{tag}-w{i}"
            with open(self.log_dir / f"{machine_id}.log", "ab") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "imgproc.cli", "worker", "--machine-id", machine_id,
                     "--log-level", "WARNING"],
                    env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))
        self.worker_procs.extend(procs)
        return procs

    def collect(self, feed: RabbitResultFeed, run: str, count: int,
                timeout_s: float) -> tuple[float, set]:
        """Poll the feed until every job of ``run`` has a result; the time of the last."""
        seen: set[str] = set()
        workers: set[str] = set()
        last = 0.0
        deadline = time.monotonic() + timeout_s
        while len(seen) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{run}: only {len(seen)} of {count} results after "
                                   f"{timeout_s:.0f} s (worker logs in {self.log_dir})")
            for result in feed.poll_results(0.2):
                if result.job_id.startswith(run + "-") and result.job_id not in seen:
                    seen.add(result.job_id)
                    workers.add(result.worker)
                    last = time.time()
        return last, workers

    def imgproc_round(self, n: int, count: int, warmup: int) -> Measured:
        feed = self.start_feed()
        tag = self.next_run("i", n)
        procs = self.start_workers(n, tag)
        try:
            wait_for(lambda: consumer_count(self.url, self.settings.rabbit.jobs_queue) >= n,
                     f"{n} imgproc workers to consume", 60)
            self._imgproc_batch(feed, tag + "w", warmup, n)
            consumers = [psutil.Process(p.pid) for p in procs]
            return self._imgproc_batch(feed, tag, count, n, measured=True, consumers=consumers)
        finally:
            stop_processes(procs)

    def _imgproc_batch(self, feed, run: str, count: int, n: int, measured: bool = False,
                       consumers: list | None = None) -> Measured | None:
        started, finished, cpu = SPAWN.Value("d", 0.0), SPAWN.Value("d", 0.0), SPAWN.Value("d", 0.0)
        pub = SPAWN.Process(target=publish_imgproc,
                            args=(self.settings, run, count, started, finished, cpu))
        meter = CpuMeter({"workers": consumers or [], **service_processes()})
        receiver_cpu = time.process_time()
        pub.start()
        last, workers = self.collect(feed, run, count, timeout_s=120 + count / 20)
        used = meter.used()
        receiver_cpu = time.process_time() - receiver_cpu
        pub.join(30)
        if not measured:
            return None
        return Measured("imgproc", n, count, last - started.value, finished.value - started.value,
                        {"workers_seen": len(workers)},
                        {"publisher": cpu.value, **used, "result feed": receiver_cpu})

    # ---- raw pika
    def raw_round(self, n: int, count: int, warmup: int, queue_type: str = "classic") -> Measured:
        """Raw pika on a durable queue of ``queue_type``: classic, or quorum as imgproc's jobs
        queue is (quorum queues replicate and fsync, so they are slower)."""
        queue = self.raw_queues[queue_type]
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        connection.channel().queue_declare(queue, durable=True,
                                           arguments={"x-queue-type": queue_type})
        connection.close()
        counts = SPAWN.Array("l", n, lock=False)
        last = SPAWN.Array("d", n, lock=False)
        stop = SPAWN.Event()
        procs = [SPAWN.Process(target=raw_consumer,
                               args=(self.url, queue, i, counts, last, stop))
                 for i in range(n)]
        for p in procs:
            p.start()
        try:
            wait_for(lambda: consumer_count(self.url, queue) >= n,
                     f"{n} raw consumers", 60)
            tag = self.next_run("r", n)
            self._raw_batch(queue, tag + "w", warmup, counts, 0)
            consumers = [psutil.Process(p.pid) for p in procs]
            measured = self._raw_batch(queue, tag, count, counts, warmup, last, n, consumers)
            assert measured is not None
            measured.kind = f"raw {queue_type}"
            return measured
        finally:
            stop.set()
            for p in procs:
                p.join(10)
                if p.is_alive():
                    p.kill()

    def _raw_batch(self, queue, run, count, counts, before, last=None, n=0,
                   consumers=None) -> Measured | None:
        started, finished, cpu = SPAWN.Value("d", 0.0), SPAWN.Value("d", 0.0), SPAWN.Value("d", 0.0)
        pub = SPAWN.Process(target=publish_raw,
                            args=(self.url, queue, run, count, started, finished, cpu))
        meter = CpuMeter({"workers": consumers or [], **service_processes()})
        pub.start()
        deadline = time.monotonic() + 120 + count / 20
        while sum(counts) < before + count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{run}: only {sum(counts) - before} of {count} acked")
            time.sleep(0.01)
        used = meter.used()
        pub.join(30)
        if last is None:
            return None
        return Measured("raw pika", n, count, max(last) - started.value,
                        finished.value - started.value, None, {"publisher": cpu.value, **used})

    # ---- cleanup
    def clean(self) -> list[str]:
        problems = []
        stop_processes(self.worker_procs, timeout_s=10)
        if self.feed is not None:
            try:
                self.feed.close()
            except Exception as exc:  # noqa: BLE001
                problems.append(f"closing the feed: {exc}")
        problems += delete_queues(self.settings, *self.raw_queues.values())
        try:
            with connected(self.settings.zk) as client:
                clear(client, self.settings.zk.root)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"clearing {self.settings.zk.root}: {exc}")
        return problems

