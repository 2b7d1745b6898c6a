"""The reaction benchmark's rig (bench_reaction.py): :class:`Bench` runs ``imgproc deployer``
and ``imgproc scaler`` as child processes on isolated settings, feeds the load, measures each
burst's repetition, and removes everything in :meth:`Bench.clean`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
import uuid
from pathlib import Path

import psutil
from live_run import delete_queues, isolated_settings
from reaction_load import Load, Observed
from reaction_report import Rep, print_rep

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import RabbitCommandBus, RabbitResultFeed
from imgproc.adapters.system_clock import SystemClock
from imgproc.adapters.zk.client import connect
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.adapters.zk.tree import clear
from imgproc.bootstrap.processes import child_environment
from imgproc.core.fleet import CommandedFleet
from imgproc.core.machines import PROVISIONED, MachineState
from imgproc.core.messages import StateReport
from imgproc.live.scaler import new_machine_id

S = MachineState
GONE = (S.DESTROYED, S.FAILED)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = uuid.uuid4().hex[:8]
        self.dir = Path(tempfile.mkdtemp(prefix=f"imgproc-reaction-{self.run_id}-"))
        base = isolated_settings(self.run_id)
        self.settings = base.model_copy(update={
            "policy": args.policy,
            "provider": base.provider.model_copy(update={
                "kind": "local", "boot_delay_s": 0.0, "drain_timeout_s": args.drain_timeout,
                "state_dir": self.dir / "machines"}),
            "scaler": base.scaler.model_copy(update={
                "interval_s": args.interval, "max_workers": args.max_workers, "min_workers": 1}),
        })
        env = child_environment(self.settings)
        self.deployer = ManagedProcess("deployer", ["deployer", "--log-level", "INFO"], env)
        self.scaler_args = ["scaler", "--policy", args.policy, "--interval", f"{args.interval:g}",
                            "--identifier", f"bench-{self.run_id}", "--log-level", "INFO"]
        self.scaler = ManagedProcess("scaler", self.scaler_args, env)
        self.client = connect(self.settings.zk)
        self.registry = ZkMachineRegistry(self.client, self.settings.zk.root)
        self.feed = RabbitResultFeed(self.settings.rabbit, durable=True)
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
            fleet = CommandedFleet(self.registry, self.bus, SystemClock(), new_machine_id)
            fleet.release_all()
            left = fleet.wait_until_gone(self.args.drain_timeout + 30, poll_s=0.25)
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
        problems += delete_queues(self.settings)
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

