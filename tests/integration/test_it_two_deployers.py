"""Two deployers on one ZooKeeper root and one broker, each with its own provider state
directory (two operators' runs): each owns the machines it provisioned, and neither takes
the other's for disappeared, not even while the other is down. A deployer started on the
same state as a running one (a restart beside the old one) waits until the old one stops,
then takes its machines back. A destroy command that reaches the other deployer is
finished by the owner. Checked machine by machine."""

from __future__ import annotations

import time

import pytest
from deployer_support import fleet_of, owner_of, said
from it_support import LiveRig, send_destroy

from imgproc.adapters.processes import ManagedProcess
from imgproc.core.machines import MachineState

pytestmark = pytest.mark.services
S = MachineState
MACHINES = 6


def start(rig: LiveRig, name: str, **provider: object) -> ManagedProcess:
    deployer = rig.spawn(name, "deployer", **provider)
    rig.wait_for(lambda: said(deployer, "deployer up"), f"{name} to be up", 30)
    return deployer


def none_failed(rig: LiveRig, deployers: list[ManagedProcess], ids: list[str]) -> None:
    """No machine recorded failed, and no deployer said it failed one."""
    for machine in rig.machines():
        rig.check(machine.state is not S.FAILED and machine.reason is None,
                  f"{machine.id} must not have failed: {machine}")
    for deployer in deployers:
        for machine_id in ids:
            rig.check(not said(deployer, f"machine {machine_id} failed"),
                      f"{deployer.name} failed {machine_id}")


def test_two_deployers_on_one_root_never_fail_each_others_machines(rig):
    dir_a, dir_b = rig.state_dir, rig.state_dir / "b"
    owner_a, owner_b = owner_of(dir_a), owner_of(dir_b)
    a = start(rig, "deployer A")
    b = start(rig, "deployer B", state_dir=str(dir_b))

    fleet = fleet_of(rig)
    ids = [fleet.request_machine() for _ in range(MACHINES)]
    rig.wait_for(lambda: len(rig.machines(S.RUNNING)) == MACHINES, "every machine running", 40)
    owners = {m.id: m.owner for m in rig.machines()}
    rig.check(set(owners.values()) == {owner_a, owner_b}, f"both deployers must own: {owners}")
    for machine_id, owner in owners.items():
        pid_file = (dir_a if owner == owner_a else dir_b) / f"{machine_id}.json"
        rig.check(pid_file.exists(), f"{machine_id} must run in its owner's state: {pid_file}")
    time.sleep(3.0)  # three checks by each deployer
    none_failed(rig, [a, b], ids)

    # A restarted beside the old one, on the same state: it waits, and acts once A stops.
    a2 = rig.spawn("deployer A again", "deployer")
    rig.wait_for(lambda: said(a2, "waiting: another deployer of this state is active"),
                 "the second deployer of A's state to wait", 20)
    time.sleep(1.5)
    rig.check(not said(a2, "deployer up"), "it must not act while A does")
    rig.check(a.stop() == 0, "deployer A should exit cleanly")
    rig.wait_for(lambda: said(a2, "deployer up"), "A's successor to take over", 20)
    rig.check(bool(said(a2, "reconciled: stopped [], finished [], failed []")),
              "A's successor must find every machine of A's state alive")

    # B down: its machines run on, untouched; destroys of them are recorded by A's successor.
    rig.check(b.stop() == 0, "deployer B should exit cleanly")
    time.sleep(2.0)
    none_failed(rig, [a2], ids)
    mine_b = sorted(i for i, owner in owners.items() if owner == owner_b)
    rig.check(all(rig.registry.get(i).state is S.RUNNING for i in mine_b),
              "B's machines must run on while B is down")
    bus = rig.bus()
    for machine_id in ids:
        send_destroy(bus, machine_id)
    rig.wait_for(lambda: {(m.id, m.state) for m in rig.registry.machines()}
                 == {(i, S.DRAINING) for i in mine_b},
                 "A's machines destroyed and B's left draining for B", 20)

    # B restarted on its state: it finishes its machines' teardown.
    b2 = start(rig, "deployer B again", state_dir=str(dir_b))
    rig.wait_for(lambda: not rig.registry.machines(), "every machine destroyed", 30)
    none_failed(rig, [a, b, a2, b2], ids)
    assert all(rig.registry.get(i).state is S.DESTROYED for i in ids)
    rig.wait_for(lambda: rig.worker_processes() == [], "no worker process left", 10)
    assert list(dir_a.glob("*.json")) == list(dir_b.glob("*.json")) == []
