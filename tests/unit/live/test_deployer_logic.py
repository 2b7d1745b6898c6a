"""The deployer's decisions: provision and destroy through a provider, record every
state, fail dead or stuck machines, and reconcile what runs with what is recorded."""

from __future__ import annotations

import json
import logging

import pytest

from imgproc.adapters.memory.registry import MemoryMachineRegistry
from imgproc.adapters.providers.memory import MemoryProvider
from imgproc.core.clock import ManualClock
from imgproc.core.deployer import Deployer
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import BadMessage, DeployerCommand

S = MachineState


class Rig:
    def __init__(self) -> None:
        self.registry = MemoryMachineRegistry()
        self.provider = MemoryProvider()
        self.clock = ManualClock(100.0)
        self.reports: list[tuple[str, str, str | None]] = []

        def report(m: Machine) -> None:
            self.reports.append((m.id, m.state.value, m.reason))

        self.deployer = Deployer(self.registry, self.provider, self.clock, boot_timeout_s=60.0,
                                 report=report)

    def record(self, machine_id: str, state: MachineState = S.PREPARING) -> None:
        """A machine as the fleet recorded it, moved along the legal path to ``state``."""
        now = self.clock.now()
        self.registry.create(Machine(machine_id, S.PREPARING, now, now))
        path = [S.BOOTING, S.RUNNING, S.DRAINING, S.DESTROYING]
        for step in path[:path.index(state) + 1] if state in path else []:
            self.registry.transition(machine_id, step, now)

    def command(self, command: str, machine_id: str) -> None:
        self.deployer.handle(DeployerCommand(command=command, machine_id=machine_id,
                                             sent_at=self.clock.now()))

    def state(self, machine_id: str) -> str:
        return self.registry.get(machine_id).state.value

    def states_reported(self, machine_id: str) -> list[str]:
        return [state for mid, state, _ in self.reports if mid == machine_id]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_provisioning_boots_the_machine_and_records_its_address(rig):
    rig.record("m1")

    rig.command("provision", "m1")

    machine = rig.registry.get("m1")
    assert (machine.state, machine.address) == (S.BOOTING, "memory://m1")
    assert machine.state_since == 100.0
    assert rig.provider.alive() == {"m1"}
    assert rig.states_reported("m1") == ["booting"]


def test_a_machine_the_provider_cannot_start_is_failed_with_the_reason_then_destroyed(rig):
    rig.record("m1")
    rig.provider.refuse.add("m1")

    rig.command("provision", "m1")

    machine = rig.registry.get("m1")
    assert machine.state is S.DESTROYED
    assert machine.reason == "could not start: no capacity for m1"
    assert rig.states_reported("m1") == ["booting", "failed", "destroyed"]
    assert rig.provider.stopped == ["m1"]  # whatever half-started is cleaned up


def test_a_machine_destroyed_while_it_starts_ends_quietly_when_its_start_is_cut_short(rig, caplog):
    rig.record("m1")
    rig.provider.refuse.add("m1")  # its start is interrupted by the destroy below
    rig.provider.during_start = lambda machine_id: rig.command("destroy", machine_id)

    rig.command("provision", "m1")

    assert rig.state("m1") == "destroyed"
    assert rig.states_reported("m1") == ["booting", "destroying", "destroyed"]
    assert [r.message for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_machine_destroyed_while_it_starts_is_stopped_once_its_start_returns(rig):
    rig.record("m1")
    rig.provider.during_start = lambda machine_id: rig.command("destroy", machine_id)

    rig.command("provision", "m1")

    assert rig.state("m1") == "destroyed"
    assert rig.provider.alive() == set()  # nothing left running that no record accounts for


def test_a_duplicate_command_does_not_expose_a_machine_still_starting_to_the_checks(rig):
    rig.record("m1")
    checked: list[list[str]] = []

    def duplicate_then_check(machine_id: str) -> None:
        rig.command("provision", machine_id)  # a redelivery: ignored, the first goes on
        checked.append(rig.deployer.check())

    rig.provider.during_start = duplicate_then_check

    rig.command("provision", "m1")

    assert checked == [[]]
    assert rig.state("m1") == "booting"


def test_a_check_marks_a_dead_machine_failed_at_once_and_stops_it_in_the_background():
    rig = Rig()
    later: list = []
    rig.deployer.background = later.append
    rig.record("m1", S.RUNNING)

    assert rig.deployer.check() == ["m1"]
    assert (rig.state("m1"), rig.provider.stopped) == ("failed", [])

    for work in later:
        work()
    assert (rig.state("m1"), rig.provider.stopped) == ("destroyed", ["m1"])


def test_destroying_a_running_machine_drains_it_before_tearing_it_down(rig):
    rig.record("m1")
    rig.command("provision", "m1")
    rig.registry.transition("m1", S.RUNNING, rig.clock.now())  # the worker came up

    rig.command("destroy", "m1")

    assert rig.states_reported("m1") == ["booting", "draining", "destroying", "destroyed"]
    assert rig.state("m1") == "destroyed"
    assert rig.registry.get("m1").reason is None
    assert rig.provider.stopped == ["m1"]
    assert rig.provider.alive() == set()


def test_the_machine_is_stopped_while_it_is_recorded_draining(rig):
    rig.record("m1", S.RUNNING)
    rig.provider.running.add("m1")
    seen: list[str] = []
    rig.provider.during_stop = lambda machine_id: seen.append(rig.state(machine_id))

    rig.command("destroy", "m1")

    assert seen == ["draining"]


def test_destroying_a_booting_machine_skips_draining(rig):
    rig.record("m1")
    rig.command("provision", "m1")

    rig.command("destroy", "m1")

    assert rig.states_reported("m1") == ["booting", "destroying", "destroyed"]
    assert rig.provider.stopped == ["m1"]


def test_destroying_a_machine_never_provisioned_tears_it_down_without_draining(rig):
    rig.record("m1")

    rig.command("destroy", "m1")

    assert rig.states_reported("m1") == ["destroying", "destroyed"]


def test_a_check_fails_a_machine_whose_process_disappeared(rig):
    rig.record("gone", S.RUNNING)
    rig.record("fine", S.RUNNING)
    rig.provider.running.add("fine")

    assert rig.deployer.check() == ["gone"]

    gone = rig.registry.get("gone")
    assert gone.state is S.DESTROYED
    assert gone.reason == "memory machine disappeared while running"
    assert rig.states_reported("gone") == ["failed", "destroyed"]
    assert rig.state("fine") == "running"


def test_a_check_fails_a_machine_still_booting_after_the_boot_timeout(rig):
    rig.record("slow")
    rig.command("provision", "slow")

    rig.clock.advance(60.0)
    assert rig.deployer.check() == []  # exactly at the timeout: still allowed

    rig.clock.advance(0.5)
    assert rig.deployer.check() == ["slow"]
    assert rig.registry.get("slow").reason == "not running after 60 s"
    assert rig.provider.stopped == ["slow"]


def test_a_check_fails_a_machine_still_preparing_after_the_boot_timeout(rig):
    rig.record("queued")
    rig.clock.advance(60.0)
    assert rig.deployer.check() == []  # its provision may still be waiting in the queue
    assert rig.state("queued") == "preparing"

    rig.clock.advance(0.5)
    assert rig.deployer.check() == ["queued"]
    machine = rig.registry.get("queued")
    assert machine.state is S.DESTROYED
    assert machine.reason == ("still preparing after the boot timeout (60 s): "
                              "no deployer carried out its provision")
    assert rig.states_reported("queued") == ["failed", "destroyed"]

    rig.command("provision", "queued")  # its command, come at last, is moot
    assert rig.provider.alive() == set()


def test_a_check_leaves_alone_a_machine_being_provisioned_right_now(rig):
    rig.record("m1")
    checked: list[list[str]] = []
    # mid-start the machine is recorded booting but its process is not up yet
    rig.provider.during_start = lambda machine_id: checked.append(rig.deployer.check())

    rig.command("provision", "m1")

    assert checked == [[]]
    assert rig.state("m1") == "booting"


def test_a_check_leaves_alone_a_machine_being_drained_right_now(rig):
    rig.record("m1", S.RUNNING)
    rig.provider.running.add("m1")
    checked: list[list[str]] = []

    def worker_exits_then_check_runs(machine_id: str) -> None:
        rig.provider.running.discard(machine_id)
        checked.append(rig.deployer.check())

    rig.provider.during_stop = worker_exits_then_check_runs

    rig.command("destroy", "m1")

    assert checked == [[]]
    assert rig.states_reported("m1") == ["draining", "destroying", "destroyed"]
    assert rig.registry.get("m1").reason is None


def test_reconcile_stops_processes_nobody_recorded(rig):
    rig.record("known", S.RUNNING)
    rig.provider.running |= {"known", "orphan"}

    orphans, finished, failed = rig.deployer.reconcile()

    assert (orphans, finished, failed) == (["orphan"], [], [])
    assert rig.provider.alive() == {"known"}
    assert rig.provider.stopped == ["orphan"]


def test_reconcile_stops_a_process_whose_machine_is_recorded_destroyed(rig):
    rig.record("m1", S.DESTROYING)
    rig.registry.transition("m1", S.DESTROYED, rig.clock.now())
    rig.provider.running.add("m1")

    orphans, _, _ = rig.deployer.reconcile()

    assert orphans == ["m1"]
    assert rig.provider.alive() == set()


def test_reconcile_finishes_teardowns_a_previous_deployer_left_halfway(rig):
    rig.record("draining", S.DRAINING)
    rig.record("destroying", S.DESTROYING)
    rig.provider.running |= {"draining", "destroying"}

    orphans, finished, failed = rig.deployer.reconcile()

    assert (orphans, finished, failed) == ([], ["destroying", "draining"], [])
    assert rig.state("draining") == rig.state("destroying") == "destroyed"
    assert sorted(rig.provider.stopped) == ["destroying", "draining"]
    assert rig.states_reported("draining") == ["destroying", "destroyed"]
    assert rig.states_reported("destroying") == ["destroyed"]


def test_reconcile_fails_records_whose_process_is_gone(rig):
    rig.record("lost", S.RUNNING)
    rig.record("alive", S.RUNNING)
    rig.provider.running.add("alive")

    orphans, finished, failed = rig.deployer.reconcile()

    assert (orphans, finished, failed) == ([], [], ["lost"])
    assert rig.registry.get("lost").reason == "memory machine disappeared while running"
    assert rig.state("alive") == "running"


@pytest.mark.parametrize("command, machine_id, setup", [
    ("provision", "nobody", None),
    ("destroy", "nobody", None),
    ("provision", "m1", S.RUNNING),
    ("provision", "m1", S.DRAINING),
], ids=["provision-unknown", "destroy-unknown", "provision-running", "provision-draining"])
def test_a_command_that_does_not_fit_the_record_is_logged_and_ignored(rig, caplog, command,
                                                                       machine_id, setup):
    if setup is not None:
        rig.record(machine_id, setup)
    before = rig.registry.all_machines()

    with caplog.at_level(logging.WARNING, logger="imgproc.core.deployer"):
        rig.command(command, machine_id)  # must not raise

    assert rig.registry.all_machines() == before
    assert rig.provider.alive() == set() and rig.provider.stopped == []
    assert f"ignoring {command} of {machine_id}" in caplog.text


def test_destroying_a_machine_already_destroyed_changes_nothing(rig):
    rig.record("m1")
    rig.command("destroy", "m1")
    reports = list(rig.reports)

    rig.command("destroy", "m1")

    assert rig.reports == reports
    assert rig.provider.stopped == ["m1"]


@pytest.mark.parametrize("machine_id", ["..", "../victim", "a/b", "", "-x", "a\nb"])
def test_a_command_whose_machine_id_could_name_a_path_is_not_a_command(machine_id):
    body = json.dumps({"command": "destroy", "machine_id": machine_id, "sent_at": 1}).encode()
    with pytest.raises(BadMessage, match="machine_id"):
        DeployerCommand.decode(body)
