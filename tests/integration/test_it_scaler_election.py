"""Two scalers: only the elected one acts; stopping it hands over to the other, which
keeps acting (it applies a new configuration and the fleet follows)."""

from __future__ import annotations

import time

import pytest

from imgproc.adapters.zk.config import ZkConfigStore, ZkScalerStatus
from imgproc.core.machines import PROVISIONED, MachineState
from imgproc.core.messages import ScalerConfig

pytestmark = pytest.mark.services
S = MachineState
INTERVAL_S = 0.5


def test_one_scaler_acts_and_the_other_takes_over_when_it_stops(rig):
    deployer = rig.spawn("deployer", "deployer")
    names = {}
    for name in ("it-a", "it-b"):
        names[name] = rig.spawn(f"scaler {name}", "scaler", "--policy", "constantsize",
                                "--param", "size=2", "--interval", str(INTERVAL_S),
                                "--identifier", name)
    status = ZkScalerStatus(rig.client, rig.zk.root)
    first = rig.wait_for(status.read, "the active scaler's status", 20)
    leader_id = first.identifier
    follower_id = "it-b" if leader_id == "it-a" else "it-a"
    leader, follower = names[leader_id], names[follower_id]

    def fleet():
        return [m for m in rig.machines() if m.state in PROVISIONED]

    rig.wait_for(lambda: len(rig.machines(S.RUNNING)) == 2, "two running workers", 40)
    # Several rounds of both scalers: had both acted, the fleet would have grown past 2.
    until = time.monotonic() + 6 * INTERVAL_S
    while time.monotonic() < until:
        rig.check(len(fleet()) == 2, f"the fleet should be exactly 2: {fleet()}")
        time.sleep(0.1)
    rig.check(f"scaler {leader_id} leads" in "\n".join(leader.lines), "the leader says it leads")
    follower_said = "\n".join(follower.lines)
    rig.check(f"scaler {follower_id} waiting to lead" in follower_said
              and f"scaler {follower_id} leads" not in follower_said,
              f"{follower_id} should be waiting, not leading")
    rig.check(status.read().identifier == leader_id, "the status still names the first leader")

    # The leader stops (SIGTERM): the other is elected and takes over the same fleet.
    rig.check(leader.stop(timeout_s=15) == 0, f"{leader_id} should exit cleanly")
    second = rig.wait_for(lambda: (s := status.read()) and s.identifier == follower_id and s,
                          f"{follower_id} to lead", 20)
    rig.check(second.applied_at >= first.applied_at, f"{second} after {first}")
    rig.check(f"scaler {follower_id} leads" in "\n".join(follower.lines), "the successor leads")

    # And it acts: a new configuration is applied within an interval or two, the fleet follows.
    written_at = time.time()
    ZkConfigStore(rig.client, rig.zk.root).write(
        ScalerConfig(policy="constantsize", params={"size": 3}, requested_at=written_at))
    applied = rig.wait_for(lambda: (s := status.read()) and s.applied_at >= written_at and s,
                           "the new configuration to be applied", 10)
    assert applied.identifier == follower_id and applied.policy == "constantsize", applied
    rig.wait_for(lambda: len(rig.machines(S.RUNNING)) == 3, "three running workers", 40)
    rig.check(len(fleet()) == 3, f"the fleet should be exactly 3: {fleet()}")

    follower.stop()
    rig.destroy_all()
    rig.check(deployer.stop() == 0, "the deployer should exit cleanly")
    rig.check(rig.worker_processes() == [], "no worker process may be left")
