"""Helpers of the deployer's integration tests: settings for the rig's services, a fleet that
asks for machines as the scaler does, a deployer service run on a thread of the test, and
what the callback and command queues hold."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from it_support import LiveRig

from imgproc.core.fleet import CommandedFleet
from imgproc.core.messages import StateReport
from imgproc.live.deployer import DeployerService
from imgproc.settings import Settings


class WallClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def settings_of(rig: LiveRig, **provider: object) -> Settings:
    """The rig's services and state directory, as its child processes get them."""
    return Settings(rabbit=rig.rabbit, zk=rig.zk,
                    provider={"state_dir": rig.state_dir, "drain_timeout_s": 20, **provider})


def owner_of(state_dir: Path, kind: str = "local") -> str:
    """The owner a deployer of this host and state directory writes on its machines."""
    return f"{kind}@{os.uname().nodename}:{state_dir.resolve()}"


def fleet_of(rig: LiveRig) -> CommandedFleet:
    """Requests machines as the scaler does: a preparing record, then a provision command."""
    return CommandedFleet(rig.registry, rig.bus(), WallClock(),
                          new_id=lambda: f"w-{uuid.uuid4().hex[:8]}")


class InProcess:
    """A deployer service running its loop on a thread of this test, stopped on close."""

    def __init__(self, service: DeployerService) -> None:
        self.service = service
        self.stop = threading.Event()
        self.thread = threading.Thread(target=service.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def reports_of(rig: LiveRig, machine_id: str, until: Callable[[list[StateReport]], bool],
               timeout_s: float = 20.0) -> list[StateReport]:
    """State reports of ``machine_id`` read from the callback queue until ``until`` holds."""
    bus, got = rig.bus(), []

    def enough() -> bool:
        delivery = bus.next_report(0.2)
        while delivery is not None:
            report = StateReport.decode(delivery.body)
            delivery.ack()
            if report.machine_id == machine_id:
                got.append(report)
            delivery = bus.next_report(0)
        return until(got)

    rig.wait_for(enough, lambda: f"reports of {machine_id} (got {got})", timeout_s, poll_s=0.05)
    return got


def commands_left(rig: LiveRig) -> int:
    """Messages of the deployer queue, ready or delivered and not yet acknowledged. The
    broker counts a quorum queue's messages every few seconds: wait for a count, never
    read it once."""
    return rig.queue_messages().get(rig.rabbit.deployer_queue, 0)


def said(process, text: str) -> list[str]:
    """The lines of a child process that contain ``text``."""
    return [line for line in process.lines if text in line]
