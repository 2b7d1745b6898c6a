"""The least replay of a trace a user could write by hand: the baseline of ``bench_replay``.

Reads the trace (imgproc's format, no validation), a line at a time with the standard
library's ``json.loads`` or, with ``--reader msgspec``, the fastest reader we know
(msgspec, decoding the two fields used into a struct), and runs a bare ``heapq`` loop
over its jobs: each job's arrival and its end pushed onto and popped from one heap,
jobs served first come first served by a fixed number of servers. No scaler, no
machines booting, no samples, no metrics. It prints the mean response time, so that
the loop's work cannot be skipped.

Run: ``.venv/bin/python benchmarks/bare_replay.py TRACE SERVERS [--reader json|msgspec]``
"""

from __future__ import annotations

import argparse
import heapq
import json
import time
from collections import deque

import msgspec


class TimedJob(msgspec.Struct):
    at: float
    service_s: float


def read_jobs(path: str, reader: str = "json") -> tuple[list[float], list[float]]:
    """Arrival and service times of the trace's jobs, in file order."""
    decode = msgspec.json.Decoder(TimedJob).decode if reader == "msgspec" else None
    arrivals: list[float] = []
    services: list[float] = []
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                if decode is not None:
                    job = decode(line)
                    arrival, service = job.at, job.service_s
                else:
                    fields = json.loads(line)
                    arrival, service = float(fields["at"]), float(fields["service_s"])
            except (KeyError, TypeError, ValueError, msgspec.DecodeError) as exc:
                raise SystemExit(f"{path}, line {number}: not a job of imgproc's trace format "
                                 f"with `at` and `service_s` ({exc}); a seed log converts "
                                 "with `imgproc workload convert`") from exc
            arrivals.append(arrival)
            services.append(service)
    return arrivals, services


def bare_heapq_loop(arrivals: list[float], services: list[float], servers: int) -> float:
    """Run the jobs through the loop; their mean response time."""
    heap: list[tuple[float, int, int]] = [(arrivals[0], 0, 0)] if arrivals else []
    waiting: deque[tuple[int, float]] = deque()
    free, seq, n, response_total = servers, 0, len(arrivals), 0.0
    while heap:
        now, _, job = heapq.heappop(heap)
        seq += 1
        if job >= 0:  # an arrival: take a server or wait; the next arrival comes after it
            if job + 1 < n:
                heapq.heappush(heap, (arrivals[job + 1], seq, job + 1))
            if free:
                free -= 1
                response_total += services[job]
                heapq.heappush(heap, (now + services[job], seq, -1))
            else:
                waiting.append((job, now))
        elif waiting:  # an end: the server takes the next waiting job
            job, arrived = waiting.popleft()
            response_total += now - arrived + services[job]
            heapq.heappush(heap, (now + services[job], seq, -1))
        else:
            free += 1
    return response_total / n if n else 0.0


def timed_loop(arrivals: list[float], services: list[float], servers: int) -> float:
    """Seconds the loop alone takes on these jobs."""
    start = time.perf_counter()
    bare_heapq_loop(arrivals, services, servers)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trace")
    parser.add_argument("servers", type=int)
    parser.add_argument("--reader", choices=("json", "msgspec"), default="json")
    args = parser.parse_args()
    arrivals, services = read_jobs(args.trace, args.reader)
    servers = max(1, args.servers)
    mean = bare_heapq_loop(arrivals, services, servers)
    print(f"{len(arrivals)} jobs, mean response {mean:.3f} s")


if __name__ == "__main__":
    main()
