"""The console under load: key press to screen change, memory, and CPU when idle.

The load: 200 simulated machines (a constant-size policy, no boot delay, a
steady 200 jobs/s trace at one virtual second per wall second), a tree source
of 10,000 znodes (the run's mirror plus filler nodes, 100 of which are
rewritten every second), and the console refreshing every second as it does
in use. It runs headless through Pilot, so terminal output is not counted.

Measured: the time from a key press to the change it causes being drawn (a
policy switch on the main screen; moving the cursor in the ZooKeeper browser),
median and p95; the process's RSS; its CPU time over an idle stretch, on the
main screen and in the browser (the simulator's own work included).

Run: ``.venv/bin/python benchmarks/bench_tui.py [--presses 50] [--idle 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil
import textual
from machine import cpu_model

from imgproc.adapters.memory.tree import MemoryTree
from imgproc.adapters.trace_files import write_trace
from imgproc.bootstrap.console import load_trace, mirror_in_memory
from imgproc.core.workload_gen import generate, make_spec
from imgproc.settings import Settings
from imgproc.tui.app import ConsoleApp
from imgproc.tui.sim_backend import SimBackend
from imgproc.tui.widgets.browser import TreeBrowser
from imgproc.tui.widgets.machines import MachinesTable
from imgproc.tui.widgets.status import StatusBar

MACHINES = 200
ZNODES = 10_000
GROUP = 100
REWRITTEN_PER_TICK = 100
GOAL_LATENCY_MS, GOAL_RSS_MB, GOAL_CPU_PCT = 100.0, 250.0, 10.0


class LoadedBackend(SimBackend):
    """The simulator backend with filler nodes in its tree, some rewritten on every tick."""

    def __init__(self, settings: Settings, trace: Path) -> None:
        super().__init__(settings, load_trace, mirror_in_memory, trace, speed=1.0)
        super().tick(1.0)
        tree = self.memory_tree()
        self.filler = [f"{tree.root}/bench/g{i // GROUP:03d}/n{i % GROUP:03d}"
                       for i in range(ZNODES - len(tree.paths()))]
        with tree.batch():
            for path in self.filler:
                tree.put(path, b'{"filler": 0}')
        self.ticks = 0

    def memory_tree(self) -> MemoryTree:
        tree = self.tree()
        assert isinstance(tree, MemoryTree)
        return tree

    def tick(self, wall_dt: float) -> None:
        super().tick(wall_dt)
        self.ticks += 1
        tree = self.memory_tree()
        with tree.batch():
            for i in range(REWRITTEN_PER_TICK):
                path = self.filler[(self.ticks * REWRITTEN_PER_TICK + i) % len(self.filler)]
                tree.put(path, f'{{"filler": {self.ticks}}}'.encode())


def loaded_backend(folder: Path) -> LoadedBackend:
    spec = make_spec(shape="normal", duration_s=600, rate=200, service_mean_s=0.2,
                     service_dist="exponential", seed=1, name="bench")
    trace = folder / "bench.jsonl"
    write_trace(generate(spec), trace)
    settings = Settings(_env_file=None, policy="constantsize",
                        policy_params={"size": MACHINES, "max_starting": MACHINES},
                        scaler={"min_workers": MACHINES, "max_workers": MACHINES,
                                "max_starting": MACHINES, "interval_s": 1.0},
                        sim={"boot_delay_s": 0.0})
    return LoadedBackend(settings, trace)


async def until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the screen did not change")
        await asyncio.sleep(0.001)


class Frames:
    """Notes when the app hands a frame to its (headless) driver with a change showing.

    It wraps ``App._display``, the one call through which every screen update
    goes: Pilot's ``press`` also waits for the app to go idle, which is not part
    of what the operator waits for.
    """

    def __init__(self, app) -> None:
        self.check: Callable[[], bool] | None = None
        self.seen_at: float | None = None
        display = app._display

        def noted(screen, update) -> None:
            display(screen, update)
            if self.check is not None and self.seen_at is None and self.check():
                self.seen_at = time.perf_counter()

        app._display = noted

    def expect(self, check: Callable[[], bool]) -> None:
        self.check, self.seen_at = check, None


async def key_latency(pilot, frames: Frames, keys: list[str],
                      changed: Callable[[str], bool]) -> list[float]:
    """Seconds from each key press to the first frame drawn after ``changed(key)`` holds."""
    times = []
    for key in keys:
        frames.expect(functools.partial(changed, key))
        start = time.perf_counter()
        await pilot.press(key)
        await until(lambda: frames.seen_at is not None)
        times.append(frames.seen_at - start)
        await pilot.pause(0.05)
    return times


async def idle_cpu(seconds: float) -> float:
    """Percent of one core this process used while the console sat idle."""
    process = psutil.Process()
    before, start = process.cpu_times(), time.perf_counter()
    await asyncio.sleep(seconds)
    after, wall = process.cpu_times(), time.perf_counter() - start
    used = (after.user - before.user) + (after.system - before.system)
    return 100.0 * used / wall


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


async def measure(backend: LoadedBackend, presses: int, idle_s: float) -> dict:
    app = ConsoleApp(backend, refresh_s=1.0)
    results: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        frames = Frames(app)
        table = app.query_one(MachinesTable)
        await until(lambda: table.row_count == MACHINES, timeout_s=30)
        status = app.query_one(StatusBar)
        names = {"1": "constantsize", "7": "slo"}
        keys = ["7" if i % 2 == 0 else "1" for i in range(presses)]
        results["main"] = summary(await key_latency(
            pilot, frames, keys, lambda k: f"policy {names[k]} " in str(status.render())))
        results["cpu_main"] = await idle_cpu(idle_s)

        await pilot.press("z")
        await until(lambda: isinstance(app.screen, TreeBrowser))
        browser: TreeBrowser = app.screen
        for path in (f"{backend.tree().root}/machines", f"{backend.tree().root}/bench"):
            browser.nodes[path].expand()
        await until(lambda: browser.nodes[f"{backend.tree().root}/bench"].data.loaded)
        await pilot.pause()
        detail = browser.query_one("#zk-detail-text")

        def moved(_key: str) -> bool:
            selected = browser.selected_path()
            return selected is not None and str(detail.content.renderables[0]).startswith(selected)

        browser.query_one("Tree").move_cursor(browser.nodes[f"{backend.tree().root}/machines"])
        results["browser"] = summary(await key_latency(pilot, frames, ["down"] * presses, moved))
        results["cpu_browser"] = await idle_cpu(idle_s)
        results["rss_mb"] = psutil.Process().memory_info().rss / 2**20
        results["znodes"] = len(backend.tree().paths())
        results["machines"] = table.row_count
        results["refreshes"] = backend.ticks
    return results




def verdict(value: float, goal: float) -> str:
    return "ok" if value < goal else "OVER GOAL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=50)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of each idle stretch")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        backend = loaded_backend(Path(folder))
        r = asyncio.run(measure(backend, args.presses, args.idle))
    print(f"date:     {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine:  {cpu_model()}, {psutil.cpu_count()} CPUs, "
          f"{platform.python_implementation()} {platform.python_version()}, "
          f"textual {textual.__version__}")
    print(f"busy:     load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
          "(other processes slow every wall-clock figure below)")
    print(f"load:     {r['machines']} machines, {r['znodes']:,} znodes "
          f"({REWRITTEN_PER_TICK} rewritten a second), a refresh a second "
          f"({r['refreshes']} refreshes)")
    for key, what in (("main", "policy switch, main screen"),
                      ("browser", "cursor move, ZooKeeper browser")):
        median, p95 = r[key]
        print(f"key -> screen ({what}, {args.presses} presses): median {median:.1f} ms, "
              f"p95 {p95:.1f} ms  "
              f"[{verdict(p95, GOAL_LATENCY_MS)}, goal < {GOAL_LATENCY_MS:.0f} ms]")
    print(f"memory:   RSS {r['rss_mb']:.0f} MB  "
          f"[{verdict(r['rss_mb'], GOAL_RSS_MB)}, goal < {GOAL_RSS_MB:.0f} MB]")
    for key, where in (("cpu_main", "main screen"), ("cpu_browser", "ZooKeeper browser")):
        print(f"idle CPU ({where}, {args.idle:.0f} s): {r[key]:.1f} % of a core  "
              f"[{verdict(r[key], GOAL_CPU_PCT)}, goal < {GOAL_CPU_PCT:.0f} %]")


if __name__ == "__main__":
    main()
