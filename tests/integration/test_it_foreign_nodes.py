"""Garbage under ``machines/`` on the real ZooKeeper (bytes that are not JSON, another schema,
a record of another machine, a name that is not a machine id), written with kazoo before
and while the control plane runs: the deployer, the scaler and the console log it and go
on; a command for a garbage node is dead-lettered with the reason, not left unacknowledged.
"""

from __future__ import annotations

import json

import pytest
from deployer_support import commands_left, said, settings_of
from it_support import LiveRig

from imgproc.bootstrap.live import build_live_console
from imgproc.core.machines import MachineState
from imgproc.core.messages import DeployerCommand

pytestmark = pytest.mark.services
S = MachineState
SIZE = 2


def litter(rig: LiveRig, garbage: dict[str, bytes]) -> None:
    for name, data in garbage.items():
        rig.client.create(f"{rig.zk.root}/machines/{name}", data, makepath=True)


BEFORE = {
    "not-json": b"\x00\xff{ not json",
    "future-schema": json.dumps({"v": 2, "id": "future-schema", "state": "running"}).encode(),
    "-not-a-machine-id": json.dumps({"v": 1, "id": "-not-a-machine-id", "state": "running",
                                     "requested_at": 1.0, "state_since": 1.0}).encode(),
}
WHILE_RUNNING = {
    "empty": b"",
    "someone-else": json.dumps({"v": 1, "id": "worker-other", "state": "running",
                                "requested_at": 1.0, "state_since": 1.0}).encode(),
}


def test_garbage_under_machines_stops_neither_deployer_nor_scaler_nor_console(rig):
    litter(rig, BEFORE)
    deployer = rig.spawn("deployer", "deployer")
    scaler = rig.spawn("scaler", "scaler", "--policy", "constantsize", "--param",
                       f"size={SIZE}", "--interval", "0.5", "--identifier", f"it-{rig.run_id}")
    rig.wait_for(lambda: len(rig.machines(S.RUNNING)) == SIZE, f"{SIZE} running machines", 40)
    litter(rig, WHILE_RUNNING)
    rig.wait_for(lambda: all(said(deployer, f"/machines/{name} ") for name in WHILE_RUNNING),
                 "the deployer to notice the new garbage", 10)

    running = {m.id for m in rig.machines(S.RUNNING)}
    rig.check(deployer.running and scaler.running, "deployer and scaler must still run")
    rig.check(len(running) == SIZE, f"the fleet must be unchanged: {running}")
    for name in {**BEFORE, **WHILE_RUNNING}:
        lines = said(deployer, f"skipping {rig.zk.root}/machines/{name} ")
        rig.check(len(lines) == 1, f"{name} must be logged once by the deployer: {lines}")

    console = build_live_console(settings_of(rig), start_components=False)
    try:
        shown = {row.id for row in console.snapshot().machines}
    finally:
        console.close(destroy_machines=False)
    assert shown == running

    scaler.stop()
    rig.destroy_all()
    rig.check(deployer.running, "the deployer must still run after the teardown")


def test_a_command_for_a_garbage_node_is_dead_lettered_with_the_reason(rig):
    litter(rig, {"worker-corrupt": b"{ not json"})
    deployer = rig.spawn("deployer", "deployer")
    rig.wait_for(lambda: said(deployer, "deployer up"), "the deployer", 30)

    rig.bus().send(DeployerCommand(command="provision", machine_id="worker-corrupt",
                                   sent_at=1.0))

    rig.wait_for(lambda: rig.queue_messages().get(rig.rabbit.dead_letter_queue) == 1,
                 "the command in the dead-letter queue", 15)
    rig.wait_for(lambda: commands_left(rig) == 0, "no command left in the deployer queue", 15)
    (line,) = said(deployer, "provision worker-corrupt not carried out")
    assert "dead-lettered" in line and f"{rig.zk.root}/machines/worker-corrupt" in line
    rig.check(deployer.running, "the deployer must still run")
