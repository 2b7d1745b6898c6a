"""A scaler acts only while it leads: one that loses its leadership in the middle of a round
(ZooKeeper suspended or its session lost) sends no command from then on, and a scaler
whose leadership ends contends again, waiting out a registry that cannot be reached.

In memory: the scaler is built by the composition root on the in-memory broker and
registry; the election is a stand-in whose leadership the test takes away at the moment
it chooses (ZooKeeper's own election is covered by tests/contract/zk and the integration
tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from imgproc.adapters.memory.broker import MemoryBroker
from imgproc.adapters.memory.registry import (
    MemoryConfigStore,
    MemoryMachineRegistry,
    MemoryScalerStatus,
)
from imgproc.adapters.zk.client import RegistryUnavailable
from imgproc.adapters.zk.election import contend_until
from imgproc.bootstrap.processes import build_scaler
from imgproc.core.clock import ManualClock
from imgproc.core.machines import Machine
from imgproc.core.messages import DeployerCommand
from imgproc.live.scaler import LiveScaler
from imgproc.settings import Settings


class HandedElection:
    """An election this process wins at once, whose leadership the test can take away;
    ``outcomes`` scripts each term: ``"lead"`` or an exception to raise instead."""

    def __init__(self, outcomes: list[object] | None = None) -> None:
        self.lost = threading.Event()
        self.outcomes = list(outcomes or [])
        self.terms = 0

    def run(self, lead: Callable[[], None]) -> bool:
        outcome = self.outcomes.pop(0) if self.outcomes else "lead"
        if isinstance(outcome, Exception):
            raise outcome
        self.terms += 1
        self.lost.clear()
        lead()
        return True

    def lose(self) -> None:
        """What a SUSPENDED or LOST session does to a leader."""
        self.lost.set()

    def cancel(self) -> None:
        self.lost.set()

    def should_stop(self) -> bool:
        return self.lost.is_set()

    def wait_stop(self, timeout_s: float) -> bool:
        return self.lost.wait(timeout_s)


class Setup:
    """A constantsize scaler (2 workers, none yet) on in-memory adapters."""

    def __init__(self, registry: MemoryMachineRegistry | None = None) -> None:
        self.settings = Settings(policy="constantsize", policy_params={"size": 2},
                                 scaler={"interval_s": 1.0})
        self.broker = MemoryBroker()
        self.registry = registry or MemoryMachineRegistry()
        self.bus = self.broker.command_bus()
        self.election = HandedElection()

    def scaler(self, bus=None) -> LiveScaler:
        return build_scaler(
            self.settings, "s1", registry=self.registry, config=MemoryConfigStore(),
            status=MemoryScalerStatus(), bus=bus or self.bus, ready=self.broker.ready_count(),
            results=self.broker.result_feed(), clock=ManualClock(100.0))

    def commands(self) -> list[str]:
        sent = []
        while (delivery := self.bus.next_command(0)) is not None:
            command = DeployerCommand.decode(delivery.body)
            sent.append(f"{command.command} {command.machine_id}")
            delivery.ack()
        return sent


class LosesLeadershipWhenObserved(MemoryMachineRegistry):
    """A registry whose listing, the round's observation, coincides with the session's
    suspension."""

    def __init__(self) -> None:
        super().__init__()
        self.on_listing: Callable[[], None] = lambda: None

    def machines(self) -> list[Machine]:
        self.on_listing()
        return super().machines()


def test_a_scaler_that_loses_leadership_while_observing_sends_no_command():
    registry = LosesLeadershipWhenObserved()
    setup = Setup(registry)
    registry.on_listing = setup.election.lose
    live = setup.scaler()

    live.lead(setup.election, threading.Event())  # one round, then it stops leading

    assert setup.commands() == []
    assert setup.registry.machines() == [], "no machine was even recorded"


def test_a_scaler_that_loses_leadership_between_two_commands_sends_no_more():
    setup = Setup()

    class LosesLeadershipOnFirstSend:
        def __init__(self) -> None:
            self.inner = setup.bus

        def send(self, command: DeployerCommand) -> None:
            self.inner.send(command)
            setup.election.lose()

        def close(self) -> None:
            self.inner.close()

    setup.scaler(bus=LosesLeadershipOnFirstSend()).lead(setup.election, threading.Event())

    assert [c.split()[0] for c in setup.commands()] == ["provision"]


def test_a_scaler_that_keeps_leading_sends_the_whole_round():
    setup = Setup()
    live = setup.scaler()
    live.begin()

    live.round(leading=lambda: True)

    assert [c.split()[0] for c in setup.commands()] == ["provision", "provision"]


def test_a_scaler_contends_again_each_time_its_leadership_ends():
    stop = threading.Event()
    election = HandedElection()

    def lead() -> None:
        election.lose()  # the session was suspended at once
        if election.terms == 3:
            stop.set()

    contend_until(election, lead, stop)

    assert election.terms == 3


def test_a_scaler_waits_out_a_registry_it_cannot_reach_and_leads_after():
    stop = threading.Event()
    unreachable = RegistryUnavailable("take part in the scaler election", "ConnectionLoss")
    election = HandedElection([unreachable, unreachable, "lead"])

    contend_until(election, stop.set, stop, max_wait_s=0.01)

    assert election.terms == 1 and election.outcomes == []


def test_a_scaler_stopped_while_the_registry_is_unreachable_returns():
    stop = threading.Event()
    unreachable = RegistryUnavailable("take part in the scaler election", "ConnectionLoss")

    class StopsWhileUnreachable(HandedElection):
        def run(self, lead: Callable[[], None]) -> bool:
            stop.set()
            raise unreachable

    contend_until(StopsWhileUnreachable(), lambda: None, stop, max_wait_s=0.01)

    assert stop.is_set()
