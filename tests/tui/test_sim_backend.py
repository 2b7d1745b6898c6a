"""The console's simulator backend: virtual time at the console's pace, and what it shows."""

from __future__ import annotations

import pytest
from tui_helpers import BURST, WORKLOADS

from imgproc.bootstrap.console import build_sim_console
from imgproc.core.errors import ConfigurationError
from imgproc.settings import Settings
from imgproc.tui.sim_backend import NO_CHILDREN


def test_a_tick_advances_virtual_time_by_wall_time_times_speed(settings):
    backend = build_sim_console(settings, BURST, speed=20)
    backend.tick(1.5)
    assert backend.snapshot().now == 30.0
    backend.set_speed(100)
    backend.tick(1.0)
    assert backend.snapshot().now == 130.0


def test_the_snapshot_shows_rates_response_times_machines_and_the_replay(settings):
    backend = build_sim_console(settings, BURST)
    for _ in range(15):
        backend.tick(1.0)
    snap = backend.snapshot()
    assert snap.backend == "sim" and snap.policy == "slo" and snap.policy_params["slo_s"] == 2.0
    assert snap.arrival_rate > 0 and snap.completion_rate > 0
    assert snap.response_p50_s is not None and snap.response_p50_s <= snap.response_p95_s
    assert snap.machines and sum(snap.machine_counts.values()) == len(snap.machines)
    assert snap.replay.trace == "burst" and snap.replay.state == "running"
    assert snap.submitted == snap.replay.submitted > snap.completed - 1
    assert {c.name for c in snap.components} == {"deployer", "scaler"}


def test_switching_policy_applies_to_the_running_simulation_at_the_virtual_time(settings):
    backend = build_sim_console(settings, BURST)
    backend.tick(2.0)
    backend.set_policy("constantsize", {"size": 3})
    assert backend.run.sim.scaler.policy.name == "constantsize"
    snap = backend.snapshot()
    applied = (snap.policy, snap.policy_params, snap.policy_applied_at)
    assert applied == ("constantsize", {"size": 3}, 40.0)
    with pytest.raises(ConfigurationError):
        backend.set_policy("constantsize", {"size": 0})


def test_one_more_and_one_fewer_worker_act_now(settings):
    backend = build_sim_console(settings, BURST)
    backend.tick(3.0)
    before = backend.running_machines()
    message = backend.adjust_workers(+1)
    assert message.startswith("asked for sim-") and backend.running_machines() == before + 1
    newest = message.split()[-1]
    assert backend.adjust_workers(-1) == f"releasing {newest}"


def test_pause_stop_and_a_new_replay(settings):
    backend = build_sim_console(settings, BURST)
    backend.tick(1.0)
    backend.pause_replay()
    backend.tick(1.0)
    assert backend.snapshot().replay.state == "paused" and backend.now == 20.0
    backend.pause_replay()
    backend.stop_replay()
    backend.tick(1.0)
    assert backend.snapshot().replay.state == "stopped" and backend.now == 20.0
    assert backend.adjust_workers(1).startswith("no replay running")
    backend.set_policy("queuesize")
    backend.start_replay(WORKLOADS / "thumbnails.jsonl", 5.0)
    assert backend.run.sim.scaler.policy.name == "queuesize"
    backend.tick(100.0)
    snap = backend.snapshot()
    assert snap.replay.state == "done" and snap.replay.submitted == snap.replay.total == 60
    assert snap.replay.speed == 5.0


def test_the_tree_mirrors_the_run_and_its_watches_fire_on_ticks(settings):
    backend = build_sim_console(settings, BURST)
    backend.tick(2.0)
    tree = backend.tree()
    fired: list[str] = []
    tree.watch("/imgproc/machines", fired.append)
    ids = [row.id for row in backend.snapshot().machines]
    assert tree.children("/imgproc/machines") == sorted(ids)
    backend.tick(2.0)
    assert fired
    backend.set_policy("queuerate")
    assert b"queuerate" in tree.get("/imgproc/scaler/status")[0]


def test_there_are_no_child_processes_on_the_simulator(settings):
    backend = build_sim_console(settings, BURST)
    assert backend.component("scaler", "restart") == NO_CHILDREN
    backend.close(destroy_machines=True)
    assert backend.snapshot().replay.state == "stopped"


def test_without_a_trace_the_backend_waits_for_a_replay(settings):
    backend = build_sim_console(settings, None, notice="hello")
    backend.tick(1.0)
    snap = backend.snapshot()
    assert snap.replay is None and snap.machines == () and snap.notice == "hello"
    assert backend.running_machines() == 0


def test_a_snapshot_with_200_machines_lists_every_one_of_them():
    """How fast the console draws 200 machines is measured by benchmarks/bench_tui.py; here,
    that none is left out at that size."""
    settings = Settings(_env_file=None, policy="constantsize",
                        policy_params={"size": 200, "max_starting": 200},
                        scaler={"min_workers": 200, "max_workers": 200, "max_starting": 200},
                        sim={"boot_delay_s": 0})
    backend = build_sim_console(settings, BURST)
    backend.tick(2.0)
    machines = backend.snapshot().machines
    assert len(machines) == 200 and len({m.id for m in machines}) == 200
