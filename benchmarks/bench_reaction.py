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
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pika
import psutil

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import RabbitCommandBus, RabbitJobPublisher, RabbitResultFeed
from imgproc.adapters.zk.client import connect
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.adapters.zk.tree import clear
from imgproc.core.machines import PROVISIONED, MachineState
from imgproc.core.messages import DeployerCommand, JobMessage, ResultMessage, StateReport
from imgproc.live.deployer import settings_environment
from imgproc.settings import Settings, load_settings

S = MachineState
GONE = (S.DESTROYED, S.FAILED)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Load:
    """Publishes simulated jobs at ``rate`` per second (evenly spaced) from its own thread."""

    def __init__(self, settings: Settings, run_id: str, service_s: float, rate: float) -> None:
        self.settings = settings
        self.run_id = run_id
        self.service_s = service_s
        self.rate = rate
        self.phase = "steady"
        self.published: list[tuple[str, str, float]] = []  # job id, phase, publish time
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def set(self, rate: float, phase: str) -> None:
        self.rate, self.phase = rate, phase

    def _run(self) -> None:
        publisher = RabbitJobPublisher(self.settings.rabbit, role=f"bench-load {self.run_id}")
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                due += 1.0 / self.rate
                wait = due - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    break
                index = len(self.published)
                job_id = f"{self.run_id}-{index}"
                phase = self.phase
                now = time.time()
                publisher.publish(JobMessage(job_id=job_id, submitted_at=now,
                                             service_s=self.service_s))
                self.published.append((job_id, phase, now))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
        finally:
            publisher.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@dataclass
class Observed:
    """Everything seen so far: results, the deployer's reports, machine records."""

    results: dict[str, ResultMessage] = field(default_factory=dict)
    reports: dict[str, dict[str, float]] = field(default_factory=dict)  # machine -> state -> at

    def add_report(self, report: StateReport) -> None:
        self.reports.setdefault(report.machine_id, {}).setdefault(report.state, report.at)


@dataclass
class Rep:
    index: int
    burst_start: float
    burst_end: float
    before: set[str]
    reaction_s: float | None = None
    first_new: str | None = None
    steps: dict[str, float] = field(default_factory=dict)
    new_machines: int = 0
    peak: int = 0
    backlog_served_s: float | None = None
    back_to_size_s: float | None = None
    all_destroyed_s: float | None = None
    drains: list[float] = field(default_factory=list)
    response_p50: float = float("nan")
    response_p95: float = float("nan")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = uuid.uuid4().hex[:8]
        self.dir = Path(tempfile.mkdtemp(prefix=f"imgproc-reaction-{self.run_id}-"))
        base = load_settings()
        self.settings = base.model_copy(update={
            "policy": args.policy,
            "rabbit": base.rabbit.isolated(f"bench-{self.run_id}."),
            "zk": base.zk.model_copy(update={"root": f"/imgproc-bench-{self.run_id}"}),
            "provider": base.provider.model_copy(update={
                "kind": "local", "boot_delay_s": 0.0, "drain_timeout_s": args.drain_timeout,
                "state_dir": self.dir / "machines"}),
            "scaler": base.scaler.model_copy(update={
                "interval_s": args.interval, "max_workers": args.max_workers, "min_workers": 1}),
        })
        env = settings_environment(self.settings)
        self.deployer = ManagedProcess("deployer", ["deployer", "--log-level", "INFO"], env)
        self.scaler_args = ["scaler", "--policy", args.policy, "--interval", f"{args.interval:g}",
                            "--identifier", f"bench-{self.run_id}", "--log-level", "INFO"]
        self.scaler = ManagedProcess("scaler", self.scaler_args, env)
        self.client = connect(self.settings.zk)
        self.registry = ZkMachineRegistry(self.client, self.settings.zk.root)
        self.feed_queue = f"{self.settings.rabbit.results_exchange}.bench"
        self.feed = RabbitResultFeed(self.settings.rabbit, queue_name=self.feed_queue, durable=True)
        self.bus = RabbitCommandBus(self.settings.rabbit, role=f"bench-reaction {self.run_id}")
        self.seen = Observed()
        self.load: Load | None = None

    # ---- observing
    def pump(self, seconds: float) -> None:
        """Take results and reports for ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            for result in self.feed.poll_results(0.05):
                self.seen.results.setdefault(result.job_id, result)
            delivery = self.bus.next_report(0)
            while delivery is not None:
                self.seen.add_report(StateReport.decode(delivery.body))
                delivery.ack()
                delivery = self.bus.next_report(0)
            if self.load is not None and self.load.error is not None:
                raise RuntimeError(f"the load thread failed: {self.load.error}")
            for child in (self.deployer, self.scaler):
                if child.exit_code is not None:
                    raise RuntimeError(f"{child.name} {child.state()}; last lines:\n" +
                                       "\n".join(list(child.lines)[-20:]))
            if time.monotonic() >= end:
                return

    def provisioned(self) -> list:
        return [m for m in self.registry.machines() if m.state in PROVISIONED]

    def wait_steady(self, size: int, hold_s: float, timeout_s: float) -> None:
        """Until exactly ``size`` machines are running and nothing else exists, for ``hold_s``."""
        deadline = time.monotonic() + timeout_s
        since = None
        while True:
            machines = self.registry.machines()
            ok = len(machines) == size and all(m.state is S.RUNNING for m in machines)
            if ok:
                since = since or time.monotonic()
                if time.monotonic() - since >= hold_s:
                    return
            else:
                since = None
            if time.monotonic() > deadline:
                states = [(m.id, m.state.value) for m in machines]
                raise RuntimeError(f"no steady fleet of {size} within {timeout_s:.0f} s: {states}")
            self.pump(0.25)

    # ---- one repetition
    def repetition(self, k: int) -> Rep:
        a = self.args
        assert self.load is not None
        self.wait_steady(1, a.steady_s, timeout_s=a.settle_timeout)
        before = {m.id for m in self.registry.machines()}
        n0 = len(self.load.published)
        self.load.set(a.burst_rate, f"burst{k}")
        burst_until = time.monotonic() + a.burst_s
        peak = 0
        while time.monotonic() < burst_until:
            self.pump(0.25)
            peak = max(peak, len(self.provisioned()))
        self.load.set(a.steady_rate, "steady")
        burst = [p for p in self.load.published[n0:] if p[1] == f"burst{k}"]
        rep = Rep(k, burst[0][2], burst[-1][2], before)
        burst_ids = {p[0] for p in burst}
        deadline = time.monotonic() + a.settle_timeout
        while time.monotonic() < deadline:
            self.pump(0.25)
            machines = self.registry.all_machines()
            live = [m for m in machines if m.state in PROVISIONED]
            peak = max(peak, len(live))
            new = [m for m in machines
                   if m.id not in before and m.requested_at >= rep.burst_start - 1]
            served = burst_ids <= set(self.seen.results)
            back = len(live) <= len(before) and all(m.state in PROVISIONED or m.state in GONE
                                                    for m in machines)
            if served and back and new:
                break
        else:
            print(f"  repetition {k}: fleet not back to {len(before)} within "
                  f"{a.settle_timeout:.0f} s after the burst", flush=True)
        self.pump(1.0)
        machines = {m.id: m for m in self.registry.all_machines()}
        new = sorted((m for m in machines.values() if m.id not in before and
                      m.requested_at >= rep.burst_start - 1), key=lambda m: m.requested_at)
        rep.new_machines, rep.peak = len(new), peak
        # reaction
        firsts = {}
        for r in self.seen.results.values():
            if (r.worker not in before and r.started_at >= rep.burst_start and r.worker in machines
                    and (r.worker not in firsts or r.started_at < firsts[r.worker])):
                firsts[r.worker] = r.started_at
        if firsts:
            first = min(firsts, key=firsts.get)
            rep.first_new, rep.reaction_s = first, firsts[first] - rep.burst_start
            m = machines[first]
            booting = self.seen.reports.get(first, {}).get("booting")
            ready = m.details.get("ready_at")
            rep.steps = {"scaler round (requested)": m.requested_at - rep.burst_start}
            if booting is not None:
                rep.steps["deployer (booting)"] = booting - m.requested_at
            if ready is not None:
                rep.steps["worker up (running)"] = ready - (booting or m.requested_at)
                rep.steps["first job"] = firsts[first] - ready
        # scale-down
        done = [self.seen.results[i].finished_at for i in burst_ids if i in self.seen.results]
        if len(done) == len(burst_ids):
            rep.backlog_served_s = max(done) - rep.burst_end
        responses = [self.seen.results[i].response_s for i in burst_ids if i in self.seen.results]
        rep.response_p50, rep.response_p95 = percentile(responses, 0.5), percentile(responses, 0.95)
        releases = sorted((rep_["draining"] if "draining" in rep_ else rep_.get("destroying"), mid)
                          for mid, rep_ in self.seen.reports.items()
                          if (rep_.get("draining") or rep_.get("destroying") or 0) > rep.burst_end)
        if releases:
            rep.back_to_size_s = releases[-1][0] - rep.burst_end
            ends = [self.seen.reports[mid].get("destroyed") for _, mid in releases]
            if all(ends):
                rep.all_destroyed_s = max(ends) - rep.burst_end
            rep.drains = [self.seen.reports[mid]["destroyed"] - self.seen.reports[mid]["draining"]
                          for _, mid in releases
                          if "draining" in self.seen.reports[mid]
                          and "destroyed" in self.seen.reports[mid]]
        return rep

    # ---- run and clean
    def run(self) -> list[Rep]:
        a = self.args
        self.deployer.start()
        self.scaler.start()
        self.load = Load(self.settings, self.run_id, a.service, a.steady_rate)
        self.load.start()
        reps = []
        for k in range(1, a.reps + 1):
            rep = self.repetition(k)
            reps.append(rep)
            print_rep(rep, a.interval, flush=True)
        return reps

    def clean(self) -> list[str]:
        problems: list[str] = []
        if self.load is not None:
            self.load.stop()
        self.scaler.stop()
        try:
            for m in self.registry.machines():
                if m.state not in (S.DESTROYING, S.DESTROYED):
                    self.bus.send(DeployerCommand(command="destroy", machine_id=m.id,
                                                  sent_at=time.time()))
            deadline = time.monotonic() + self.args.drain_timeout + 30
            while (self.registry.machines() and time.monotonic() < deadline
                   and self.deployer.running):
                time.sleep(0.25)
            left = [m.id for m in self.registry.machines()]
            if left:
                problems.append(f"machines not destroyed by the deployer: {left}")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"destroying machines: {exc}")
        self.deployer.stop()
        problems += kill_leftover_workers(self.settings.provider.state_dir)
        for child in (self.deployer, self.scaler):
            (self.dir / f"{child.name}.log").write_text("\n".join(child.lines) + "\n")
        for closing in (self.bus.close, self.feed.close):
            with contextlib.suppress(Exception):
                closing()
        r = self.settings.rabbit
        try:
            connection = pika.BlockingConnection(pika.URLParameters(r.url))
            channel = connection.channel()
            for queue in (r.jobs_queue, r.dead_letter_queue, r.deployer_queue, r.callback_queue,
                          self.feed_queue):
                channel.queue_delete(queue)
            channel.exchange_delete(r.results_exchange)
            connection.close()
        except Exception as exc:  # noqa: BLE001
            problems.append(f"deleting queues: {exc}")
        try:
            clear(self.client, self.settings.zk.root)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"clearing {self.settings.zk.root}: {exc}")
        self.client.stop()
        self.client.close()
        return problems


def kill_leftover_workers(state_dir: Path) -> list[str]:
    """Kill every worker the local provider still lists (pid file whose process is that worker)."""
    problems = []
    for pid_file in state_dir.glob("*.json"):
        try:
            record = json.loads(pid_file.read_text())
            proc = psutil.Process(record["pid"])
            if record["machine_id"] in proc.cmdline():
                proc.kill()
                proc.wait(5)
                problems.append(f"killed leftover worker {record['machine_id']} "
                                f"(pid {record['pid']})")
        except (OSError, ValueError, KeyError, psutil.Error):
            pass
    return problems


def fmt(value: float | None, unit: str = " s") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def print_rep(rep: Rep, interval: float, flush: bool = False) -> None:
    bound = interval + 2
    verdict = "-" if rep.reaction_s is None else ("within" if rep.reaction_s <= bound else "OVER")
    print(f"  repetition {rep.index}: reaction {fmt(rep.reaction_s)} "
          f"({verdict} the bound {bound:g} s), first new worker {rep.first_new}; "
          f"{rep.new_machines} new machines, peak fleet {rep.peak}")
    if rep.steps:
        print("    " + "; ".join(f"{k} {v:.2f} s" for k, v in rep.steps.items()))
    print(f"    burst responses p50 {rep.response_p50:.2f} s, p95 {rep.response_p95:.2f} s; "
          f"after the burst's last job: backlog served {fmt(rep.backlog_served_s)}, "
          f"fleet back to size {fmt(rep.back_to_size_s)}, "
          f"released machines destroyed {fmt(rep.all_destroyed_s)}; "
          f"drain per machine {', '.join(f'{d:.2f}' for d in rep.drains) or '-'} s", flush=flush)


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
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    bench = Bench(args)
    s = bench.settings
    now = datetime.now(UTC)
    print(f"date:      {now:%Y-%m-%d %H:%M} UTC")
    print(f"machine:   {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
          f"{cpu_model()}, {platform.python_implementation()} {platform.python_version()}")
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
