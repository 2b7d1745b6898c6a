"""Simulator speed: jobs per second on a generated million-job trace, against a bare
``heapq`` event loop over the same number of events, measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_sim.py [--jobs N] [--policy NAME]``
"""

from __future__ import annotations

import argparse
import heapq
import platform
import random
import resource
import time
from datetime import UTC, datetime

from machine import cpu_model

from imgproc.core.policies import build_policy
from imgproc.core.scaler import ScalerLimits
from imgproc.core.sim.settings import SimSettings
from imgproc.core.sim.simulator import Simulation
from imgproc.core.workload_gen import generate, make_spec


def bare_heapq_loop(events: int, seed: int = 1) -> float:
    """Seconds for a minimal discrete-event loop: each event pops and, half the time, pushes.

    This is the floor for any heapq-based simulator handling ``events`` events.
    """
    rng = random.Random(seed)
    heap = [(rng.random(), i, 0) for i in range(1000)]
    heapq.heapify(heap)
    start = time.perf_counter()
    seq = 1000
    handled = 0
    while handled < events:
        now, _, kind = heapq.heappop(heap)
        handled += 1
        if kind == 0 or len(heap) < 1000:
            seq += 1
            heapq.heappush(heap, (now + rng.random(), seq, 1 - kind))
    return time.perf_counter() - start




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--policy", default="slo")
    args = parser.parse_args()
    rate = 50.0
    spec = make_spec(shape="diurnal", duration_s=args.jobs / rate, rate=rate,
                     service_mean_s=0.2, service_dist="exponential", seed=1)
    t0 = time.perf_counter()
    trace = generate(spec)
    gen_s = time.perf_counter() - t0
    sim = Simulation(trace, build_policy(args.policy), ScalerLimits(max_workers=200), SimSettings())
    t0 = time.perf_counter()
    record = sim.run()
    sim_s = time.perf_counter() - t0
    events = 2 * len(trace) + len(sim.rounds) + len(record.series) + 2 * len(record.machines)
    bare_s = bare_heapq_loop(events)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"date:            {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine:         {cpu_model()}, "
          f"{platform.python_implementation()} {platform.python_version()}")
    print(f"trace:           {len(trace):,} jobs (diurnal, {rate}/s mean, exp. service 0.2 s), "
          f"generated in {gen_s:.2f} s")
    print(f"policy:          {args.policy}; {len(record.machines)} machines used")
    print(f"events:          {events:,}")
    print(f"simulator:       {sim_s:.2f} s = {len(trace) / sim_s:,.0f} jobs/s")
    print(f"bare heapq loop: {bare_s:.2f} s for the same number of events")
    print(f"ratio:           {sim_s / bare_s:.2f}x the bare loop")
    print(f"peak memory:     {peak_mb:.0f} MB (max RSS of the whole process)")


if __name__ == "__main__":
    main()
