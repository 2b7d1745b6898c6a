"""The least replay of a trace a user could write by hand: the baseline of ``bench_replay``.

Reads the trace with the standard library (``json.loads`` a line at a time, no
validation) and runs a bare ``heapq`` loop over its jobs: each job's arrival and its end
pushed onto and popped from one heap, jobs served first come first served by a fixed
number of servers. No scaler, no machines booting, no samples, no metrics. It prints
the mean response time, so that the loop's work cannot be skipped.

Run: ``.venv/bin/python benchmarks/bare_replay.py TRACE SERVERS``
"""

from __future__ import annotations

import heapq
import json
import sys
import time
from collections import deque


def read_jobs(path: str) -> tuple[list[float], list[float]]:
    """Arrival and service times of the trace's jobs, in file order."""
    arrivals: list[float] = []
    services: list[float] = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                job = json.loads(line)
                arrivals.append(float(job["at"]))
                services.append(float(job["service_s"]))
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
    path, servers = sys.argv[1], int(sys.argv[2])
    arrivals, services = read_jobs(path)
    mean = bare_heapq_loop(arrivals, services, servers)
    print(f"{len(arrivals)} jobs, mean response {mean:.3f} s")


if __name__ == "__main__":
    main()
