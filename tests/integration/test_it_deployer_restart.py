"""The deployer killed (SIGKILL) while provisioning, then restarted: it reconciles with
what is really running, and no worker process is left that nobody accounts for."""

from __future__ import annotations

import json
import os
import signal

import pytest

from imgproc.core.machines import MachineState

pytestmark = pytest.mark.services
S = MachineState
LIVE = (S.BOOTING, S.RUNNING, S.DRAINING)
SIZE = 3


def test_a_deployer_killed_mid_provision_and_restarted_leaves_no_orphan(rig):
    # Workers take 2 s to boot, so they are still starting when the deployer dies.
    deployer = rig.spawn("deployer", "deployer", boot_delay_s=2)
    scaler = rig.spawn("scaler", "scaler", "--policy", "constantsize", "--param", f"size={SIZE}",
                       "--interval", "0.5", "--identifier", f"it-{rig.run_id}", boot_delay_s=2)
    rig.wait_for(lambda: rig.machines(S.BOOTING) and rig.worker_processes(),
                 "a machine booting with its worker process started", 30, poll_s=0.02)
    os.kill(deployer.pid, signal.SIGKILL)
    deployer.stop()
    starting = {rig.machine_of(p) for p in rig.worker_processes()}
    rig.check(bool(starting), "worker processes outlive their deployer, as VMs would")
    # One of them as a deployer killed between starting it and noting its pid leaves it:
    # recorded in the state directory without a pid. The successor must still find it.
    unnoted = sorted(starting)[0]
    pid_file = rig.state_dir / f"{unnoted}.json"
    pid_file.write_text(json.dumps({"machine_id": unnoted, "pid": None,
                                    "log": str(rig.state_dir / f"{unnoted}.log")}))

    restarted = rig.spawn("deployer (restarted)", "deployer", boot_delay_s=2)
    rig.wait_for(lambda: any("reconciled" in line for line in restarted.lines),
                 "the restarted deployer to reconcile", 30)

    def consistent():
        """Every live record has its worker process, and every worker process a live record."""
        live = {m.id for m in rig.machines(*LIVE)}
        procs = rig.worker_processes()
        running = [rig.machine_of(p) for p in procs]
        return (len(rig.machines(S.RUNNING)) == SIZE and len(running) == len(set(running))
                and set(running) == live and (live, running))

    rig.wait_for(consistent, f"{SIZE} running machines, each with exactly one worker process", 40)
    record = next(m for m in rig.machines() if m.id == unnoted)
    rig.check(record.state is S.RUNNING and not record.reason,
              f"{unnoted}, started but its pid not noted, should have been found: {record}")

    scaler.stop()
    rig.destroy_all()
    rig.check(restarted.stop() == 0, "the restarted deployer should exit cleanly")
    rig.check(rig.worker_processes() == [], "no worker process may be left")
    rig.check(list(rig.state_dir.glob("*.json")) == [], "no pid file may be left")
