"""The in-memory ZooKeeper stand-in and the mirror that writes a run into it."""

from __future__ import annotations

import json

import pytest

from imgproc.adapters.memory.tree import MemoryTree, RunMirror
from imgproc.adapters.zk.client import RegistryError
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import ScalerConfig, ScalerStatus

S = MachineState
CONFIG = ScalerConfig(policy="slo", params={"slo_s": 2.0})
STATUS = ScalerStatus(identifier="simulator", policy="slo", applied_at=0.0)


def machine(mid: str, state: S = S.RUNNING, jobs: int = 0) -> Machine:
    return Machine(mid, state, 0.0, 1.0, address=f"sim://{mid}", jobs_done=jobs)


def test_put_creates_parents_and_counts_versions_and_children():
    now = [5.0]
    tree = MemoryTree("/imgproc", clock=lambda: now[0])
    tree.put("/imgproc/a/b", b"1")
    now[0] = 9.0
    tree.put("/imgproc/a/b", b"2")
    tree.put("/imgproc/a/b", b"2")
    data, stat = tree.get("/imgproc/a/b")
    assert data == b"2" and stat.version == 1 and stat.ctime == 5.0 and stat.mtime == 9.0
    assert tree.children("/imgproc") == ["a"] and tree.get("/imgproc/a")[1].children == 1
    assert tree.paths() == ["/imgproc", "/imgproc/a", "/imgproc/a/b"]


def test_reading_a_missing_node_raises_the_registry_error_the_live_source_raises():
    with pytest.raises(RegistryError):
        MemoryTree().get("/imgproc/nothing")


def test_a_watch_fires_once_per_batch_for_its_node_and_its_children():
    tree = MemoryTree()
    fired: list[str] = []
    tree.watch("/imgproc/m", fired.append)
    with tree.batch():
        for i in range(5):
            tree.put(f"/imgproc/m/{i}", b"x")
    assert fired == ["/imgproc/m"]
    tree.put("/imgproc/m/1", b"y")
    tree.put("/imgproc/other", b"")
    assert fired == ["/imgproc/m", "/imgproc/m"]


def test_deleting_the_root_keeps_the_root_and_remembers_what_was_deleted():
    tree = MemoryTree()
    tree.put("/imgproc/a/b", b"")
    tree.delete("/imgproc")
    assert tree.paths() == ["/imgproc"]
    assert tree.deleted == {"/imgproc/a", "/imgproc/a/b"}


def test_the_mirror_writes_machine_records_ephemeral_workers_config_and_status():
    tree = MemoryTree()
    RunMirror(tree).sync([machine("m1"), machine("m2", S.BOOTING)], CONFIG, STATUS)
    assert tree.children("/imgproc") == ["config", "machines", "scaler", "workers"]
    assert tree.children("/imgproc/machines") == ["m1", "m2"]
    assert tree.children("/imgproc/workers") == ["m1"]
    assert tree.get("/imgproc/workers/m1")[1].ephemeral_owner != 0
    record = json.loads(tree.get("/imgproc/machines/m2")[0])
    assert record["state"] == "booting" and record["v"] == 1
    assert json.loads(tree.get("/imgproc/config/scaler")[0])["policy"] == "slo"


def test_the_mirror_removes_gone_machines_and_does_not_rewrite_deleted_nodes():
    tree = MemoryTree()
    mirror = RunMirror(tree)
    mirror.sync([machine("m1"), machine("m2")], CONFIG, STATUS)
    tree.delete("/imgproc/machines/m1")
    tree.delete("/imgproc/config/scaler")
    mirror.sync([machine("m1", jobs=3)], CONFIG, STATUS)
    assert tree.children("/imgproc/machines") == []
    assert tree.children("/imgproc/workers") == ["m1"]
    assert not tree.exists("/imgproc/config/scaler")
    mirror.sync([machine("m1", jobs=3)], CONFIG, STATUS, rewrite_config=True)
    assert tree.exists("/imgproc/config/scaler")
