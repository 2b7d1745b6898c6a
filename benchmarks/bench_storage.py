"""Object storage: thumbnails/s through S3 against local paths, and the job client's round trip.

Part 1 makes 256-pixel JPEG thumbnails (quality 85) of synthetic 12-megapixel JPEGs with
``ImageProcessor``, N workers at once (threads by default; ``--processes`` for spawned
processes), once reading and writing ``s3://`` objects on the S3 server (SeaweedFS,
``StorageSettings()``) and once local paths, in the same run with the same N: the ratio
S3/local is what object storage costs a worker. The photos are uploaded once, before timing;
every job writes an output of its own.

Part 2 times one small job (320x240 JPEG, ``thumbnail:64``) from ``Client.submit`` to its
result, one at a time, through RabbitMQ and two in-process workers (built as ``imgproc
worker`` builds them, registry in memory): with a local file as input (the client uploads it)
and with an ``s3://`` input already there, which separates the upload's cost.

Everything is isolated: a RabbitMQ vhost made for the run (``rabbitmqctl``), deleted at the
end, and the prefix ``bench/RUN/`` (and ``uploads/bench-RUN-*``) in the bucket, listed and
deleted at the end. Needs the real RabbitMQ and S3 server (``scripts/ensure-services.sh``).

Run: ``.venv/bin/python benchmarks/bench_storage.py [--count 12] [--jobs 24] [--rounds 3]
[--workers 1,2] [--processes] [--trips 100]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import PIL
from live_run import print_date_and_machine, sigterm_raises_interrupt
from PIL import features

from imgproc.adapters.images import ImageProcessor
from imgproc.adapters.memory.registry import (
    MemoryLiveness,
    MemoryMachineRegistry,
    MemorySession,
    MemoryWorkerBoard,
)
from imgproc.adapters.photos import make_photos
from imgproc.adapters.rabbit.settings import RabbitSettings
from imgproc.adapters.storage.router import Storage, s3_storage
from imgproc.adapters.storage.s3 import s3_client
from imgproc.adapters.storage.settings import StorageSettings
from imgproc.core.image_ops import Convert, Thumbnail

OPS = (Thumbnail(op="thumbnail", size=256), Convert(op="convert", format="jpeg", quality=85))
SMALL_OPS = ["thumbnail:64"]

# -- part 1: thumbnails/s, S3 against local -------------------------------------------------

_local = threading.local()


def _processor(where: str, root: str) -> ImageProcessor:
    """This worker's (thread's or process's) processor, made on its first job, as a worker
    keeps one: its own boto3 client for S3."""
    key = f"{where}:{root}"
    found = getattr(_local, "processors", None)
    if found is None:
        found = _local.processors = {}
    if key not in found:
        storage = (Storage(root, root) if where == "local"
                   else s3_storage(root, root, StorageSettings()))
        found[key] = ImageProcessor(storage)
    return found[key]


def _job(where: str, root: str, input: str, output: str, job_id: str) -> int:
    return _processor(where, root).process(OPS, input, output, job_id).bytes_written


def _warm(_: int) -> None:
    time.sleep(0.2)  # keeps a worker busy so that each of them starts


def pool(n: int, processes: bool) -> Executor:
    if processes:
        return ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))
    return ThreadPoolExecutor(n)


def throughput(executor: Executor, where: str, root: str, names: list[str], jobs: int,
               rounds: int, tag: str) -> tuple[float, list[float]]:
    """Jobs/s: best of ``rounds`` passes of ``jobs`` jobs after one warm-up pass; and every
    pass's rate."""
    def one_pass(label: str) -> float:
        started = time.perf_counter()
        futures = [executor.submit(_job, where, root, f"photos/{names[i % len(names)]}",
                                   f"thumbs/{tag}-{label}-{i}.jpg", f"{tag}-{label}-{i}")
                   for i in range(jobs)]
        for future in futures:
            future.result()
        return jobs / (time.perf_counter() - started)

    one_pass("warm")
    rates = [one_pass(f"r{r}") for r in range(rounds)]
    return max(rates), rates


# -- part 2: the client's round trip ----------------------------------------------------------

def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def vhost(name: str) -> Iterator[None]:
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield
    finally:
        rabbitmqctl("delete_vhost", name)


@contextmanager
def two_workers(settings) -> Iterator[None]:
    from imgproc.bootstrap.processes import build_worker

    stop, registry = threading.Event(), MemoryMachineRegistry()
    threads = []
    try:
        for n in range(2):
            live = build_worker(settings, f"w{n}", stop, registry=registry,
                                liveness=MemoryLiveness(MemoryWorkerBoard(), MemorySession()))
            threads.append(threading.Thread(target=live.run, args=(stop,), daemon=True))
            threads[-1].start()
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def round_trips(client, input: Callable[[int], str], count: int, warm: int, run: str,
                label: str, root: str) -> list[float]:
    """Submit-to-result times in ms of ``count`` jobs one at a time, after ``warm`` more."""
    times = []
    for n in range(warm + count):
        job_id = f"bench-{run}-{label}-{n}"
        started = time.perf_counter()
        handle = client.submit(input(n), SMALL_OPS, output=f"{root}client/{job_id}.jpg",
                               job_id=job_id)
        result = handle.result(timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        if result.status != "done":
            raise RuntimeError(f"job {job_id} failed: {result.error}")
        if n >= warm:
            times.append(elapsed)
    return times


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


# -- cleanup ----------------------------------------------------------------------------------

def delete_prefix(s3, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix``; how many there were."""
    deleted = 0
    while True:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1000)
        keys = [{"Key": o["Key"]} for o in listed.get("Contents", [])]
        if not keys:
            return deleted
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        deleted += len(keys)


# -- the command ------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=12, help="number of 12 MP JPEGs")
    parser.add_argument("--jobs", type=int, default=24, help="jobs per timed pass")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes (best is kept)")
    parser.add_argument("--workers", default="1,2", help="numbers of workers, comma-separated")
    parser.add_argument("--processes", action="store_true",
                        help="workers are spawned processes (default: threads)")
    parser.add_argument("--trips", type=int, default=100, help="timed round trips per input")
    parser.add_argument("--warm", type=int, default=5, help="untimed round trips first")
    args = parser.parse_args()
    sigterm_raises_interrupt()

    storage = StorageSettings()
    run = uuid.uuid4().hex[:10]
    bucket, prefix = storage.bucket, f"bench/{run}/"
    root = f"s3://{bucket}/{prefix}"
    s3 = s3_client(storage)
    print_date_and_machine(f", Pillow {PIL.__version__} "
                           f"(libjpeg-turbo {features.version('libjpeg_turbo')})")
    print(f"storage:   S3 {storage.endpoint_url} {root} (server: "
          f"{s3.head_bucket(Bucket=bucket)['ResponseMetadata']['HTTPHeaders'].get('server', '?')})")
    workers = [int(n) for n in args.workers.split(",")]
    kind = "processes (spawn)" if args.processes else "threads"
    problems: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
            local = Path(tmp)
            paths = make_photos(local / "photos", args.count, [(4000, 3000)], ("jpeg",), seed=7)
            names = [p.name for p in paths]
            size = sum(p.stat().st_size for p in paths) / len(paths)
            started = time.perf_counter()
            for path in paths:
                s3.put_object(Bucket=bucket, Key=f"{prefix}photos/{path.name}",
                              Body=path.read_bytes())
            upload_s = time.perf_counter() - started
            print(f"files:     {len(paths)} JPEGs of 4000x3000, {size / 1e6:.1f} MB each "
                  f"(uploaded in {upload_s:.2f} s, {len(paths) * size / 1e6 / upload_s:.0f} MB/s, "
                  f"one at a time); thumbnail 256 px, JPEG q85; {args.jobs} jobs a pass, "
                  f"best of {args.rounds}; workers are {kind}")
            print()
            print(f"{'N':>2}  {'local jobs/s':>12}  {'S3 jobs/s':>10}  {'S3/local':>8}  "
                  f"per-pass rates local / S3")
            for n in workers:
                with pool(n, args.processes) as executor:
                    list(executor.map(_warm, range(n)))
                    best_l, rates_l = throughput(executor, "local", str(local), names,
                                                 args.jobs, args.rounds, f"l{n}")
                    best_s, rates_s = throughput(executor, "s3", root, names, args.jobs,
                                                 args.rounds, f"s{n}")
                print(f"{n:>2}  {best_l:>12.1f}  {best_s:>10.1f}  {best_s / best_l:>8.2f}  "
                      f"{', '.join(f'{r:.1f}' for r in rates_l)} / "
                      f"{', '.join(f'{r:.1f}' for r in rates_s)}")

            # Part 2: the client's round trip.
            from imgproc.client import Client
            from imgproc.settings import Settings, WorkerSettings

            small = make_photos(local / "small", 1, [(320, 240)], ("jpeg",), seed=3)[0]
            small_key = f"{prefix}small/{small.name}"
            s3.put_object(Bucket=bucket, Key=small_key, Body=small.read_bytes())
            name = f"imgproc-bench-{run}"
            with vhost(name):
                settings = Settings(
                    rabbit=RabbitSettings().with_vhost(name), storage=storage,
                    worker=WorkerSettings(input_root=str(local / "in"),
                                          output_root=str(local / "out")))
                with two_workers(settings), Client(settings) as client:
                    uploaded = round_trips(client, lambda n: str(small), args.trips, args.warm,
                                           run, "up", root)
                    there = round_trips(client, lambda n: f"s3://{bucket}/{small_key}",
                                        args.trips, args.warm, run, "s3", root)
            print()
            print(f"round trip, Client.submit to result, 2 in-process worker threads, "
                  f"{small.stat().st_size / 1e3:.0f} kB 320x240 JPEG, thumbnail:64, "
                  f"{args.trips} jobs one at a time after {args.warm}")
            print(f"{'input':<34}  {'p50 ms':>7}  {'p95 ms':>7}  {'min ms':>7}  {'max ms':>7}")
            for label, times in (("local file (client uploads it)", uploaded),
                                 ("s3:// URL already uploaded", there)):
                print(f"{label:<34}  {percentile(times, 50):>7.1f}  {percentile(times, 95):>7.1f}"
                      f"  {min(times):>7.1f}  {max(times):>7.1f}")
            print(f"upload's share (p50 difference): "
                  f"{percentile(uploaded, 50) - percentile(there, 50):.1f} ms")
    finally:
        try:
            gone = delete_prefix(s3, bucket, prefix)
            gone += delete_prefix(s3, bucket, f"uploads/bench-{run}-")
            left = (s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0)
                    + s3.list_objects_v2(Bucket=bucket, Prefix=f"uploads/bench-{run}-")
                    .get("KeyCount", 0))
            print(f"cleanup:   deleted {gone} objects under {root} and "
                  f"s3://{bucket}/uploads/bench-{run}-*; {left} left")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"deleting s3 objects: {exc}")
        s3.close()
    for problem in problems:
        print(f"problem:   {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
