"""The deployer when things go wrong, on the real RabbitMQ and ZooKeeper (issue 10, "lose
nothing"): a command is acknowledged only once carried out, a provision that fails ends
failed with its reason, and a record stuck starting past the boot timeout is failed, its
machine stopped, and replaced by the scaler.
"""

from __future__ import annotations

import json
import time

import pytest
from deployer_support import (
    InProcess,
    WallClock,
    commands_left,
    fleet_of,
    owner_of,
    reports_of,
    settings_of,
)
from it_support import LiveRig
from kazoo.client import KazooClient

from imgproc.adapters.providers.memory import MemoryProvider
from imgproc.adapters.zk.client import close, connect
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.bootstrap.processes import build_deployer
from imgproc.core.machines import MachineState

pytestmark = pytest.mark.services
S = MachineState


# ---- 1. a command is acknowledged once carried out ---------------------------------------


def test_a_provision_whose_start_fails_ends_failed_with_the_reason_and_is_acked(rig):
    deployer = rig.spawn("deployer", "deployer",
                         options={"worker_command": [str(rig.tmp_path / "no-such-worker")]})
    rig.wait_for(lambda: any("deployer up" in line for line in deployer.lines), "the deployer", 30)

    machine_id = fleet_of(rig).request_machine()

    reports = reports_of(rig, machine_id, lambda got: any(r.state == "destroyed" for r in got))
    assert [r.state for r in reports] == ["booting", "failed", "destroyed"]
    failed = reports[1]
    assert failed.reason is not None and failed.reason.startswith("could not start:")
    assert "no-such-worker" in failed.reason
    record = rig.registry.get(machine_id)
    assert (record.state, record.reason) == (S.DESTROYED, failed.reason)
    rig.wait_for(lambda: commands_left(rig) == 0, "the command to be acknowledged", 15)


class BrokenProvider(MemoryProvider):
    """A provider with a bug: its start raises what no provider should."""

    def start(self, machine_id: str) -> str:
        raise RuntimeError(f"bug while starting {machine_id}")


def test_a_provision_whose_provider_raises_unexpectedly_still_ends_failed_with_the_reason(rig):
    service = build_deployer(settings_of(rig), provider=BrokenProvider(), clock=WallClock())
    rig.keep(InProcess(service))

    machine_id = fleet_of(rig).request_machine()

    reports = reports_of(rig, machine_id, lambda got: any(r.state == "destroyed" for r in got))
    assert [r.state for r in reports] == ["booting", "failed", "destroyed"]
    assert reports[1].reason == f"could not start: RuntimeError: bug while starting {machine_id}"
    rig.wait_for(lambda: commands_left(rig) == 0, "the command to be acknowledged", 15)


class CutOff:
    """An in-process deployer on a ZooKeeper client of its own, which the test can cut off
    (the session ends: ZooKeeper unreachable, for the deployer only) and give back."""

    def __init__(self, rig: LiveRig) -> None:
        self.client = connect(rig.zk)
        rig.keep(_Closing(self.client))
        self.rig = rig
        self.provider = MemoryProvider()

    def deployer(self) -> InProcess:
        service = build_deployer(settings_of(self.rig), provider=self.provider,
                                 registry=ZkMachineRegistry(self.client, self.rig.zk.root),
                                 clock=WallClock())
        return self.rig.keep(InProcess(service))

    def provision_while_cut_off(self, caplog: pytest.LogCaptureFixture) -> str:
        """Cut the deployer off, send it a provision, and wait until it took it and found it
        cannot record it; returns the machine's id."""
        self.rig.wait_for(lambda: self.rig.connections(), "the deployer's broker connection",
                          10)
        self.client.stop()
        machine_id = fleet_of(self.rig).request_machine()
        self.rig.wait_for(lambda: f"provision {machine_id} not carried out" in caplog.text,
                          "the deployer to take the command and fail to record it", 10)
        assert self.rig.registry.get(machine_id).state is S.PREPARING
        return machine_id


def test_a_provision_the_deployer_cannot_record_is_carried_out_once_it_can(rig, caplog):
    """The deployer's ZooKeeper session ends as the command comes: it keeps the command and
    carries it out, once, when ZooKeeper is back."""
    cut = CutOff(rig)
    cut.deployer()
    machine_id = cut.provision_while_cut_off(caplog)

    cut.client.start()

    rig.wait_for(lambda: rig.registry.get(machine_id).state is S.BOOTING,
                 "the provision to be carried out once ZooKeeper is back", 20)
    assert cut.provider.started == [machine_id]
    rig.wait_for(lambda: commands_left(rig) == 0, "the command to be acknowledged", 15)


def test_a_provision_the_deployer_could_not_record_is_never_acknowledged(rig, caplog):
    """The deployer stops while it cannot record the provision: the command goes back to
    the queue (it was never acknowledged), and the next deployer carries it out."""
    cut = CutOff(rig)
    first = cut.deployer()
    machine_id = cut.provision_while_cut_off(caplog)

    first.close()  # its broker connection closes: what it did not acknowledge comes back
    rig.wait_for(lambda: commands_left(rig) == 1, "the command back in the deployer queue", 15)
    assert rig.registry.get(machine_id).state is S.PREPARING

    cut.client.start()
    cut.deployer()
    rig.wait_for(lambda: rig.registry.get(machine_id).state is S.BOOTING,
                 "the next deployer to carry the provision out", 20)
    rig.wait_for(lambda: commands_left(rig) == 0, "the command to be acknowledged", 15)


class _Closing:
    def __init__(self, client: KazooClient) -> None:
        self.client = client

    def close(self) -> None:
        close(self.client)


# ---- 2. nothing stays starting past the boot timeout -------------------------------------


def write_preparing(rig: LiveRig, machine_id: str, age_s: float, owner: str | None) -> None:
    """A preparing record written straight into ZooKeeper, as a deployer killed before it
    carried out the provision leaves it (claimed or not), or a provision command lost."""
    at = time.time() - age_s
    record = {"v": 1, "id": machine_id, "state": "preparing", "requested_at": at,
              "state_since": at, "details": {"type": "worker"}}
    if owner is not None:
        record["owner"] = owner
    rig.client.create(f"{rig.zk.root}/machines/{machine_id}", json.dumps(record).encode(),
                      makepath=True)


def test_records_left_preparing_past_the_boot_timeout_are_failed_and_replaced(rig):
    write_preparing(rig, "w-unclaimed", age_s=30, owner=None)
    write_preparing(rig, "w-claimed", age_s=30, owner=owner_of(rig.state_dir))
    rig.spawn("scaler", "scaler", "--policy", "constantsize", "--param", "size=1",
              "--interval", "0.5", "--identifier", f"it-{rig.run_id}")
    rig.spawn("deployer", "deployer", boot_timeout_s=5)

    def replaced():
        stale = [rig.registry.get(i) for i in ("w-unclaimed", "w-claimed")]
        others = [m for m in rig.machines(S.RUNNING) if not m.id.startswith("w-")]
        return all(m.state is S.DESTROYED for m in stale) and others and (stale, others)

    stale, others = rig.wait_for(replaced, "the stale records failed and one machine running",
                                 40)
    for machine in stale:
        assert machine.reason == ("still preparing after the boot timeout (5 s): "
                                  "no deployer carried out its provision"), machine
    (replacement,) = others
    assert replacement.requested_at >= max(m.state_since for m in stale) - 1.0


def test_a_machine_not_running_by_the_boot_timeout_is_failed_and_its_worker_stopped(rig):
    deployer = rig.spawn("deployer", "deployer", boot_timeout_s=3, boot_delay_s=60)
    rig.wait_for(lambda: any("deployer up" in line for line in deployer.lines), "the deployer", 30)

    machine_id = fleet_of(rig).request_machine()
    rig.wait_for(lambda: [rig.machine_of(p) for p in rig.worker_processes()] == [machine_id],
                 "its worker process, still booting", 10)

    rig.wait_for(lambda: rig.registry.get(machine_id).state is S.DESTROYED,
                 "the machine to be failed after the boot timeout", 15)
    assert rig.registry.get(machine_id).reason == "not running after 3 s"
    rig.wait_for(lambda: rig.worker_processes() == [], "its worker process to be stopped", 10)
