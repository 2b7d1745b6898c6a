"""A RabbitMQ node SIGKILLed in the middle of a live run on the 3-node cluster: every job
published before, during and after completes (checked by job id; a job done twice is
counted once, and the duplicates are reported), the deployer, the scaler and the workers
are the same processes afterwards, and the killed node, started again, rejoins the cluster.

The node killed is the worst one: node 1, which every client connects to first, so that
it leads every queue of the run. Every durable queue is a quorum queue (the kept results a
stream), replicated on all three nodes: each elects a new leader on node 2 or 3, the
clients reconnect there and declare their queues again, and the jobs the workers held
unacknowledged are handed out again. (With classic queues, which live on one node, this
failed: a durable classic queue whose node is down cannot even be declared, 404 "home
node ... is down or inaccessible", and every reconnecting client stopped:
docs/reliability.md.)
"""

from __future__ import annotations

import time

from cluster_support import (
    ClusterRig,
    ctl,
    node_name,
    running_nodes,
    start_fleet,
)

SIZE = 2
SERVICE_S = 0.3
KILLED = 1


def queue_nodes(rig: ClusterRig, via: int = 1) -> dict[str, str]:
    """Each durable queue of the test's vhost and its node (a quorum queue's or a stream's:
    its leader's, empty while a new stream has none yet); the children's exclusive queues
    go with their connections and do not matter here."""
    out = ctl(via, "--no-table-headers", "list_queues", "-p", rig.vhost, "name", "durable",
              "type", "leader", "pid")
    found = {}
    for line in out.splitlines():
        name, durable, kind, leader, pid = [*line.split("\t"), "", "", "", ""][:5]
        if durable == "true":
            replicated = kind in ("quorum", "stream")
            found[name] = leader if replicated else pid.strip("<>").split(".", 1)[0]
    return found


def test_a_rabbitmq_node_killed_mid_run_loses_no_job_and_rejoins(rig: ClusterRig):
    fleet = start_fleet(rig, SIZE, SERVICE_S, rabbit_url=rig.urls(1, 2, 3))
    rig.wait_for(lambda: set(queue_nodes(rig).values()) == {node_name(KILLED)},
                 f"every queue to be led from node {KILLED}", timeout_s=15)
    jobs = fleet.submit("before", 8)
    time.sleep(0.5)  # some of them in the workers' hands when the node dies
    pids = fleet.pids()

    killed_at = rig.kill("rabbit", KILLED)
    jobs += fleet.submit("during", 8)
    done_s = fleet.wait_for_results(jobs, 45) - killed_at
    leaders = queue_nodes(rig, via=2)
    rejoin_s = rig.restart("rabbit", KILLED)
    rig.check(node_name(KILLED) in running_nodes(via=2),
              f"node {KILLED} should run in the cluster again: {running_nodes(via=2)}")
    jobs += fleet.submit("after", 6)
    fleet.wait_for_results(jobs, 30)

    print(f"\n{len(jobs)} jobs, {len(jobs) - fleet.tally.completed} lost, "
          f"{fleet.tally.duplicates} duplicate(s); every job before and during the fault done "
          f"{done_s:.1f} s after the kill; queue leaders moved to {sorted(set(leaders.values()))};"
          f" node {KILLED} rejoined {rejoin_s:.1f} s after it was started again")
    assert set(fleet.tally.results) == set(jobs) and fleet.tally.failed == 0
    assert node_name(KILLED) not in leaders.values()
    fleet.finish(pids)
