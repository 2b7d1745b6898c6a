"""Two deployers on one registry, each with its own provider: each judges only the machines
it owns (and those nobody owns), so neither takes the other's machines for disappeared, and
a destroy command that reaches the wrong one is finished by the owner."""

from __future__ import annotations

import logging

import pytest

from imgproc.adapters.memory.registry import MemoryMachineRegistry
from imgproc.adapters.providers.memory import MemoryProvider
from imgproc.core.clock import ManualClock
from imgproc.core.deployer import Deployer
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import DeployerCommand

S = MachineState


class Pair:
    """Deployers ``a`` and ``b`` on one registry and one clock, each with its provider."""

    def __init__(self) -> None:
        self.registry = MemoryMachineRegistry()
        self.clock = ManualClock(100.0)
        self.providers = {name: MemoryProvider() for name in "ab"}
        self.deployers = {name: self.deployer(name) for name in "ab"}

    def deployer(self, name: str) -> Deployer:
        return Deployer(self.registry, self.providers[name], self.clock, boot_timeout_s=60.0,
                        owner=f"deployer-{name}")

    def request(self, machine_id: str) -> None:
        now = self.clock.now()
        self.registry.create(Machine(machine_id, S.PREPARING, now, now))

    def command(self, name: str, command: str, machine_id: str) -> None:
        self.deployers[name].handle(DeployerCommand(command=command, machine_id=machine_id,
                                                    sent_at=self.clock.now()))

    def running(self, name: str, machine_id: str) -> None:
        """``machine_id`` provisioned by deployer ``name``, its worker up."""
        self.request(machine_id)
        self.command(name, "provision", machine_id)
        self.registry.transition(machine_id, S.RUNNING, self.clock.now())

    def state(self, machine_id: str) -> MachineState:
        return self.registry.get(machine_id).state


@pytest.fixture
def pair() -> Pair:
    return Pair()


def test_the_deployer_that_provisions_a_machine_owns_it(pair):
    pair.request("m1")
    pair.command("a", "provision", "m1")
    assert pair.registry.get("m1").owner == "deployer-a"
    assert pair.providers["a"].alive() == {"m1"} and pair.providers["b"].alive() == set()


def test_neither_deployer_fails_the_others_machines_in_its_checks(pair):
    pair.running("a", "a1")
    pair.running("b", "b1")
    pair.clock.advance(1000.0)

    assert pair.deployers["a"].check() == []
    assert pair.deployers["b"].check() == []
    assert (pair.state("a1"), pair.state("b1")) == (S.RUNNING, S.RUNNING)


def test_each_deployer_still_fails_its_own_machine_that_disappeared(pair):
    pair.running("a", "a1")
    pair.running("b", "b1")
    pair.providers["a"].running.discard("a1")

    assert pair.deployers["b"].check() == []
    assert pair.deployers["a"].check() == ["a1"]
    assert pair.registry.get("a1").reason == "memory machine disappeared while running"


def test_a_machine_claimed_by_one_deployer_is_not_provisioned_by_the_other(pair, caplog):
    pair.request("m1")
    pair.registry.update("m1", owner="deployer-a")  # a claimed it; its start is under way

    with caplog.at_level(logging.WARNING, logger="imgproc.core.deployer"):
        pair.command("b", "provision", "m1")  # the command, redelivered to b

    assert pair.providers["b"].started == [] and pair.state("m1") is S.PREPARING
    assert "ignoring provision of m1" in caplog.text and "owned by deployer-a" in caplog.text


def test_a_destroy_sent_to_the_other_deployer_is_recorded_and_finished_by_the_owner(pair):
    pair.running("a", "a1")

    pair.command("b", "destroy", "a1")

    assert pair.state("a1") is S.DRAINING  # recorded by b, which cannot stop it
    assert pair.providers["b"].stopped == [] and pair.providers["a"].alive() == {"a1"}
    assert pair.deployers["a"].check() == []
    assert pair.state("a1") is S.DESTROYED and pair.registry.get("a1").reason is None
    assert pair.providers["a"].stopped == ["a1"] and pair.providers["a"].alive() == set()


def test_a_destroy_of_a_machine_the_other_is_starting_ends_it_once_its_start_returns(pair):
    pair.request("a1")
    pair.providers["a"].during_start = lambda machine_id: pair.command("b", "destroy", machine_id)

    pair.command("a", "provision", "a1")
    assert pair.state("a1") is S.DESTROYING and pair.providers["a"].alive() == set()

    pair.deployers["a"].check()
    assert pair.state("a1") is S.DESTROYED


def test_a_machine_nobody_owns_is_judged_by_any_deployer(pair):
    pair.request("legacy")
    pair.registry.transition("legacy", S.BOOTING, 100.0)
    pair.registry.transition("legacy", S.RUNNING, 100.0)

    assert pair.deployers["b"].check() == ["legacy"]


def test_reconciling_leaves_the_other_deployers_teardowns_and_failures_alone(pair):
    pair.running("a", "a1")
    pair.running("a", "a2")
    pair.registry.transition("a1", S.DRAINING, pair.clock.now())
    pair.registry.transition("a2", S.FAILED, pair.clock.now(), "a test")

    assert pair.deployers["b"].reconcile() == ([], [], [])
    assert (pair.state("a1"), pair.state("a2")) == (S.DRAINING, S.FAILED)
    assert pair.providers["a"].alive() == {"a1", "a2"}


def test_a_deployer_restarted_on_the_same_state_takes_its_machines_back(pair):
    pair.running("a", "a1")
    pair.running("a", "gone")
    pair.providers["a"].running.discard("gone")

    restarted = pair.deployer("a")  # a new deployer, the same owner and provider view
    orphans, finished, failed = restarted.reconcile()

    assert (orphans, finished, failed) == ([], [], ["gone"])
    assert pair.state("a1") is S.RUNNING
    restarted.handle(DeployerCommand(command="destroy", machine_id="a1", sent_at=0.0))
    assert pair.state("a1") is S.DESTROYED and pair.providers["a"].alive() == set()
