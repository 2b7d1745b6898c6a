"""A running fleet (``tests/fleet.py``) on this machine's services, for the fault tests."""

from __future__ import annotations

import json

from fleet import Fleet
from it_support import LiveRig

from imgproc.adapters.processes import ManagedProcess
from imgproc.adapters.rabbit import RabbitJobPublisher, RabbitResultFeed
from imgproc.core.machines import MachineState

S = MachineState
SIZE = 2


def start_fleet(rig: LiveRig, broker_url: str | None = None, size: int = SIZE,
                **rabbit: object) -> Fleet:
    """A deployer and a constantsize scaler of ``size`` workers on ``broker_url`` (the rig's
    broker by default), with ``rabbit`` settings added; returns once all of them run."""
    def spawn(name: str, *args: str) -> ManagedProcess:
        env = rig.env()
        env["IMGPROC_RABBIT"] = json.dumps({"url": broker_url or rig.rabbit.url, **rabbit})
        proc = ManagedProcess(name, list(args), env)
        rig.processes.append(proc)
        proc.start()
        return proc

    settings = rig.rabbit.model_copy(update=rabbit)  # the test's clients declare the same
    feed = rig.keep(RabbitResultFeed(settings, durable=True))
    deployer = spawn("deployer", "deployer")
    scaler = spawn("scaler", "scaler", "--policy", "constantsize", "--param", f"size={size}",
                   "--interval", "0.5", "--identifier", f"it-{rig.run_id}")
    publisher = rig.keep(RabbitJobPublisher(settings, role=f"test {rig.run_id}"))
    rig.wait_for(lambda: len(rig.machines(S.RUNNING)) == size
                 and len(rig.worker_processes()) == size, f"{size} running workers", 40)
    return Fleet(rig, deployer, scaler, publisher, feed)
