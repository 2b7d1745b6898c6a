"""The console's backend on the simulator: a trace replayed in virtual time, stepped by
the console's refresh, with an in-memory ZooKeeper tree mirroring the run.

Nothing here blocks or does I/O apart from reading a trace file, so every call
is fast; the console still calls it from one worker thread at a time, so no
two calls overlap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from imgproc.bootstrap.sim import build_simulation, policy_params
from imgproc.core.machines import MachineState
from imgproc.core.messages import ScalerConfig, ScalerStatus
from imgproc.core.policies import build_policy
from imgproc.core.ports import TreeMirror, TreeSource
from imgproc.core.scaler import release_order
from imgproc.core.trace import Trace
from imgproc.settings import Settings
from imgproc.tui.model import ComponentStatus, ConsoleSnapshot, MachineRow, ReplayStatus
from imgproc.tui.sim_run import SimRun
from imgproc.tui.text import duration

#: A mirror of the run as ZooKeeper would hold it: (root, clock) -> mirror.
MirrorFactory = Callable[[str, Callable[[], float]], TreeMirror]

DEFAULT_SPEED = 20.0
NO_CHILDREN = "the simulator has no child processes"
SIM_STATE = "simulated, in-process"


class SimBackend:
    """Implements ``ConsoleBackend`` on :class:`~imgproc.core.sim.simulator.Simulation`."""

    kind = "sim"

    def __init__(self, settings: Settings, load_trace: Callable[[Path], Trace],
                 new_mirror: MirrorFactory, trace: Path | None = None,
                 speed: float = DEFAULT_SPEED, notice: str | None = None) -> None:
        self.settings = settings
        self.load_trace = load_trace
        self.new_mirror = new_mirror
        self.speed = speed
        self.notice = notice
        self.policy = settings.policy
        self.params = policy_params(settings, self.policy, settings.sim.boot_delay_s)
        self.applied_at: float | None = None
        self.run: SimRun | None = None
        self._mirror: TreeMirror | None = None
        if trace is not None:
            self.start_replay(trace, speed)

    @property
    def now(self) -> float:
        """Virtual seconds since the replay started."""
        return self.run.now if self.run else 0.0

    def tick(self, wall_dt: float) -> None:
        if self.run is not None:
            self.run.advance(wall_dt * self.speed)
            self._sync_tree()

    def snapshot(self) -> ConsoleSnapshot:
        run, now = self.run, self.now
        machines = run.machines() if run else []
        stats = run.sim.stats() if run else None
        arrival, completion = run.rates() if run else (0.0, 0.0)
        p50, p95 = run.responses.percentiles(now) if run else (None, None)
        return ConsoleSnapshot(
            now=now, backend="sim", policy=self.policy, policy_params=dict(self.params),
            policy_applied_at=self.applied_at, slo_s=self.settings.slo_s,
            ready=stats.ready if stats else 0, in_flight=stats.in_flight if stats else 0,
            arrival_rate=arrival, completion_rate=completion,
            response_p50_s=p50, response_p95_s=p95,
            submitted=stats.published if stats else 0,
            completed=stats.completed if stats else 0, failed=0,
            machines=tuple(MachineRow(m.id, m.state.value, m.address, now - m.requested_at,
                                      m.jobs_done, m.current_job) for m in machines),
            broker="none (simulated queue)", zookeeper="none (in-memory tree)",
            replay=self._replay_status(), components=self._components(), notice=self.notice,
            machine_counts=dict(Counter(m.state.value for m in machines)),
        )

    def set_policy(self, name: str, params: dict | None = None) -> None:
        effective = policy_params(self.settings, name, self.settings.sim.boot_delay_s)
        effective.update(params or {})
        policy = build_policy(name, effective)
        if self.run is not None:
            self.run.sim.scaler.set_policy(policy)
            self.run.scaler_lines.append(f"{duration(self.now):>6} policy switched to {name}")
        self.policy, self.params, self.applied_at = name, effective, self.now
        self._sync_tree(rewrite_config=True)

    def adjust_workers(self, delta: int) -> str:
        run = self.run
        if run is None or run.state in ("stopped", "done"):
            return "no replay running: the simulated fleet only changes during one"
        sim = run.sim
        if delta > 0:
            asked = [sim.request_machine() for _ in range(delta)]
            message = f"asked for {', '.join(asked)}"
        else:
            victims = release_order(sim.machines())[:-delta]
            for machine in victims:
                sim.release_machine(machine.id)
            message = (f"releasing {', '.join(m.id for m in victims)}" if victims
                       else "no machine to release")
        run.log_machines()
        self._sync_tree()
        return message

    def start_replay(self, trace: Path, speed: float) -> None:
        parsed = self.load_trace(trace)
        sim = build_simulation(self.settings, parsed, self.policy)
        if self.policy != self.settings.policy or self.applied_at is not None:
            sim.scaler.set_policy(build_policy(self.policy, self.params))
        self.run = SimRun(sim, Path(trace))
        self.speed = speed
        self._sync_tree()

    def pause_replay(self) -> None:
        run = self.run
        if run is not None and run.state in ("running", "paused"):
            run.state = "paused" if run.state == "running" else "running"

    def stop_replay(self) -> None:
        if self.run is not None and self.run.state in ("running", "paused"):
            self.run.state = "stopped"

    def set_speed(self, speed: float) -> None:
        self.speed = speed

    def tree(self) -> TreeSource:
        if self._mirror is None:
            self._mirror = self.new_mirror(self.settings.zk.root, lambda: self.now)
            self._sync_tree(rewrite_config=True)
        return self._mirror.tree

    def component(self, name: str, action: str) -> str:
        return NO_CHILDREN

    def running_machines(self) -> int:
        if self.run is None:
            return 0
        return sum(n for state, n in self.run.sim.counts.items()
                   if state is not MachineState.DESTROYED)

    def close(self, destroy_machines: bool) -> None:
        """Nothing runs outside this process; releasing the machines only ends the run."""
        if self.run is not None:
            self.stop_replay()
            if destroy_machines:
                for machine in self.run.sim.machines():
                    self.run.sim.release_machine(machine.id)

    # ---- helpers -------------------------------------------------------------

    def _replay_status(self) -> ReplayStatus | None:
        run = self.run
        if run is None:
            return None
        return ReplayStatus(run.name, self.speed, run.state, run.sim.next_arrival,
                            len(run.sim.trace))

    def _components(self) -> tuple[ComponentStatus, ...]:
        run = self.run
        deployer = tuple(run.deployer_lines) if run else ()
        scaler = tuple(run.scaler_lines) if run else ()
        return (ComponentStatus("deployer", SIM_STATE, deployer),
                ComponentStatus("scaler", SIM_STATE, scaler))

    def _sync_tree(self, rewrite_config: bool = False) -> None:
        if self._mirror is None:
            return
        config = ScalerConfig(policy=self.policy, params=self.params, requested_at=self.applied_at)
        status = ScalerStatus(identifier="simulator", policy=self.policy,
                              applied_at=self.applied_at if self.applied_at is not None else 0.0)
        machines = self.run.machines() if self.run else []
        self._mirror.sync(machines, config, status, rewrite_config=rewrite_config)
