"""A ZooKeeper server SIGKILLed in the middle of a live run on the 3-server ensemble: the
leader, so that the two others must elect a new one. Every job published before, during and
after completes (by job id), the deployer, the scaler and the workers are the same
processes, their sessions outlive the fault (the workers' liveness nodes are the same
nodes of the same sessions; the scaler, which stops leading while its connection is
suspended, contends again in the same session), and the killed server, started again,
rejoins the ensemble: ``srvr`` says follower or leader.

The children are given all three servers; kazoo connects to one of them and moves to
another when its server goes or stops serving (a follower that loses its leader drops its
clients until a new leader is elected), within the session timeout.
"""

from __future__ import annotations

import time

from cluster_support import NODES, ClusterRig, start_fleet, zk_mode
from fleet import owners

from imgproc.adapters.zk.layout import Layout
from imgproc.core.machines import PROVISIONED

SIZE = 2
SERVICE_S = 0.3


def leader(among: tuple[int, ...] = NODES) -> int | None:
    """The server of ``among`` that leads the ensemble, if one does."""
    return next((n for n in among if zk_mode(n) == "leader"), None)


def sessions(rig: ClusterRig) -> tuple[dict[str, int], set[int]]:
    """The workers' liveness nodes with their sessions, and the scaler election's sessions."""
    layout = Layout(rig.zk.root)
    election = owners(rig.client, layout.scaler_election)
    return owners(rig.client, layout.workers), set(election.values())


def announced(rig: ClusterRig) -> tuple[dict[str, int], set[int]] | None:
    """:func:`sessions`, once every worker is announced and the scaler contends."""
    workers, scaler = sessions(rig)
    return (workers, scaler) if len(workers) == SIZE and len(scaler) == 1 else None


def test_the_zookeeper_leader_killed_mid_run_loses_no_job_and_rejoins(rig):
    fleet = start_fleet(rig, SIZE, SERVICE_S)
    before = rig.wait_for(lambda: announced(rig),
                          f"{SIZE} workers announced and one scaler contending", 20)
    killed = rig.wait_for(leader, "the ensemble to have a leader", 10)
    jobs = fleet.submit("before", 8)
    time.sleep(0.5)  # some of them in the workers' hands when the server dies
    pids = fleet.pids()

    killed_at = rig.kill("zk", killed)
    jobs += fleet.submit("during", 8)
    others = tuple(n for n in NODES if n != killed)
    new_leader = rig.wait_for(lambda: leader(others), "the two others to elect a leader", 30)
    elected_s = time.time() - killed_at
    done_s = fleet.wait_for_results(jobs, 45) - killed_at
    rejoin_s = rig.restart("zk", killed)
    mode = zk_mode(killed)
    rig.check(mode in ("follower", "leader"), f"server {killed} should rejoin, not be {mode}")
    jobs += fleet.submit("after", 6)
    fleet.wait_for_results(jobs, 30)

    print(f"\n{len(jobs)} jobs, {len(jobs) - fleet.tally.completed} lost, "
          f"{fleet.tally.duplicates} duplicate(s); server {new_leader} led {elected_s:.1f} s "
          f"after leader {killed} was killed; every job before and during the fault done "
          f"{done_s:.1f} s after the kill; server {killed} rejoined as {mode} "
          f"{rejoin_s:.1f} s after it was started again")
    assert set(fleet.tally.results) == set(jobs) and fleet.tally.failed == 0
    rig.check(sessions(rig) == before, f"the same sessions should own the workers' nodes and "
              f"contend for the scaler: {before}, now {sessions(rig)}")
    fleet_now = [m.id for m in rig.machines() if m.state in PROVISIONED]
    rig.check(len(fleet_now) == SIZE, f"the scaler should not have grown the fleet: {fleet_now}")
    fleet.finish(pids)
