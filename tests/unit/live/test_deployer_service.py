"""The deployer's loop settles each command by its outcome: acknowledged once carried out,
tried again after an error that may pass, dead-lettered after any other or the last try;
never acknowledged as if it had been carried out. A failing check does not end the loop."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from imgproc.adapters.memory.registry import MemoryMachineRegistry
from imgproc.adapters.providers.memory import MemoryProvider
from imgproc.core.clock import ManualClock
from imgproc.core.errors import ImgprocError
from imgproc.core.executors import InlineExecutor
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import DeployerCommand, StateReport
from imgproc.live.deployer import DeployerService

S = MachineState


class Unreachable(ImgprocError):
    """Stands for the registry's "unreachable for now"."""


class Broken(ImgprocError):
    """An error that will not pass by waiting."""


@dataclass
class FakeDelivery:
    body: bytes
    redelivered: bool = False
    settled: list[str] = field(default_factory=list)

    def ack(self) -> None:
        self.settled.append("ack")

    def dead_letter(self, reason: str) -> None:
        self.settled.append(f"dead: {reason}")


class FakeBus:
    """Hands out the commands sent; keeps the reports."""

    def __init__(self) -> None:
        self.waiting: list[FakeDelivery] = []
        self.reports: list[StateReport] = []

    def send(self, command: DeployerCommand) -> None:
        self.waiting.append(FakeDelivery(command.encode()))

    def next_command(self, timeout_s: float) -> FakeDelivery | None:
        return self.waiting.pop(0) if self.waiting else None

    def send_report(self, report: StateReport) -> None:
        self.reports.append(report)

    def next_report(self, timeout_s: float) -> None:
        return None

    def close(self) -> None:
        """Nothing to release."""


class FailingRegistry(MemoryMachineRegistry):
    """A registry whose claims (the first write of a provision) raise ``errors`` in turn."""

    def __init__(self, *errors: Exception) -> None:
        super().__init__()
        self.errors = list(errors)

    def update(self, machine_id: str, **fields: object) -> Machine:
        if "owner" in fields and self.errors:
            raise self.errors.pop(0)
        return super().update(machine_id, **fields)


class Rig:
    def __init__(self, registry: MemoryMachineRegistry) -> None:
        self.registry, self.bus, self.provider = registry, FakeBus(), MemoryProvider()
        self.clock = ManualClock(100.0)
        self.service = DeployerService(registry, self.provider, self.bus, self.clock,
                                       InlineExecutor(), boot_timeout_s=60.0,
                                       retryable=(Unreachable,), retry_delays_s=(1.0, 2.0))
        self.service.begin()

    def provision(self, machine_id: str = "m1") -> FakeDelivery:
        now = self.clock.now()
        self.registry.create(Machine(machine_id, S.PREPARING, now, now))
        self.bus.send(DeployerCommand(command="provision", machine_id=machine_id, sent_at=now))
        delivery = self.bus.waiting[-1]
        self.service.step(0)
        return delivery

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.service.step(0)


def test_a_command_carried_out_is_acknowledged():
    rig = Rig(MemoryMachineRegistry())
    delivery = rig.provision()
    assert delivery.settled == ["ack"] and rig.registry.get("m1").state is S.BOOTING


def test_a_command_failing_for_a_while_is_kept_tried_again_and_acknowledged_once_done():
    rig = Rig(FailingRegistry(Unreachable("zk down"), Unreachable("zk still down")))

    delivery = rig.provision()
    assert delivery.settled == [] and rig.registry.get("m1").state is S.PREPARING
    rig.later(0.9)
    assert delivery.settled == [] and rig.provider.started == []  # not due yet
    rig.later(0.1)  # the first delay: tried again, fails again
    assert delivery.settled == [] and rig.registry.get("m1").state is S.PREPARING
    rig.later(2.0)  # the second delay: carried out

    assert delivery.settled == ["ack"]
    assert rig.registry.get("m1").state is S.BOOTING and rig.provider.started == ["m1"]


def test_a_command_still_failing_after_its_last_try_is_dead_lettered_with_the_reason(caplog):
    rig = Rig(FailingRegistry(*(Unreachable("zk down") for _ in range(3))))

    delivery = rig.provision()
    rig.later(1.0)
    rig.later(2.0)

    assert delivery.settled == ["dead: provision m1 not carried out: zk down"]
    # its record, left preparing, is failed by the checks once past the boot timeout
    rig.later(60.0)
    machine = rig.registry.get("m1")
    assert machine.state is S.DESTROYED and "still preparing" in (machine.reason or "")


def test_a_command_failing_with_an_error_that_will_not_pass_is_dead_lettered_at_once():
    rig = Rig(FailingRegistry(Broken("node m1 holds an invalid record")))

    delivery = rig.provision()

    assert delivery.settled == [
        "dead: provision m1 not carried out: node m1 holds an invalid record"]


def test_a_provision_whose_provider_fails_is_acknowledged_with_its_machine_failed():
    rig = Rig(MemoryMachineRegistry())
    rig.provider.refuse.add("m1")

    delivery = rig.provision()

    assert delivery.settled == ["ack"]
    assert [(r.state, r.reason) for r in rig.bus.reports] == [
        ("booting", None), ("failed", "could not start: no capacity for m1"),
        ("destroyed", "could not start: no capacity for m1")]


class BrokenListing(MemoryMachineRegistry):
    def machines(self) -> list[Machine]:
        raise Unreachable("cannot list machines: zk down")


def test_a_check_that_fails_is_logged_and_the_loop_goes_on(caplog):
    rig = Rig(MemoryMachineRegistry())
    rig.registry = rig.service.deployer.registry = BrokenListing()

    with caplog.at_level(logging.WARNING, logger="imgproc.live.deployer"):
        rig.later(5.0)
        rig.later(5.0)

    assert caplog.text.count("check skipped: cannot list machines: zk down") == 2


@pytest.mark.parametrize("error", [Unreachable("zk down"), Broken("corrupt")])
def test_a_command_whose_try_is_cut_short_by_shutdown_is_left_for_the_broker(error):
    rig = Rig(FailingRegistry(error, error))
    delivery = rig.provision()
    settled = list(delivery.settled)

    rig.service.shutdown()

    if isinstance(error, Unreachable):  # waiting for its next try: given back, not settled
        assert settled == delivery.settled == []
    else:
        assert delivery.settled == ["dead: provision m1 not carried out: corrupt"]
