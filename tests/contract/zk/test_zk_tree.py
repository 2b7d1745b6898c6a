"""The dump and clear helpers, the documented layout, and connecting, on a real ZooKeeper."""

from __future__ import annotations

import dataclasses
import json

import pytest

from imgproc.adapters.zk.client import RegistryUnavailable, connect
from imgproc.adapters.zk.layout import MachineRecord
from imgproc.adapters.zk.settings import ZkSettings
from imgproc.adapters.zk.tree import clear, walk
from imgproc.core.errors import ConfigurationError
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import ScalerConfig, ScalerStatus


def _populate(zk, make_machine):
    zk.registry().create(make_machine("m1", MachineState.RUNNING, address="10.0.0.7"))
    zk.liveness(zk.session()).announce("w1")
    zk.config().write(ScalerConfig(policy="slo"))
    zk.status().write(ScalerStatus(identifier="scaler-a", policy="slo", applied_at=1.0))


def test_the_tree_follows_the_documented_layout(zk, make_machine):
    _populate(zk, make_machine)
    paths = [node.path[len(zk.root):] for node in walk(zk.session(), zk.root)]
    assert paths == ["", "/config", "/config/scaler", "/machines", "/machines/m1",
                     "/scaler", "/scaler/status", "/workers", "/workers/w1"]


def test_a_machine_node_holds_versioned_json_of_the_whole_record(zk, make_machine):
    _populate(zk, make_machine)
    data, _ = zk.session().get(f"{zk.root}/machines/m1")
    assert json.loads(data) == {
        "v": 1, "id": "m1", "state": "running", "requested_at": 100.0, "state_since": 100.0,
        "address": "10.0.0.7", "current_job": None, "jobs_done": 0, "reason": None,
        "details": {},
    }


def test_walk_marks_worker_nodes_ephemeral_and_the_rest_persistent(zk, make_machine):
    _populate(zk, make_machine)
    ephemeral = {node.path for node in walk(zk.session(), zk.root) if node.ephemeral}
    assert ephemeral == {f"{zk.root}/workers/w1"}


def test_walking_a_missing_root_yields_nothing(zk):
    assert list(walk(zk.session(), f"{zk.root}/nowhere")) == []


def test_clear_deletes_the_whole_subtree_and_counts_its_nodes(zk, make_machine):
    _populate(zk, make_machine)
    client = zk.session()
    assert clear(client, zk.root) == 9
    assert client.exists(zk.root) is None
    assert clear(client, zk.root) == 0


@pytest.mark.parametrize("root", ["/", "/zookeeper", "/zookeeper/quota", "relative"])
def test_clear_refuses_the_tree_root_and_zookeepers_own_nodes(zk, root):
    with pytest.raises(ConfigurationError, match="refusing"):
        clear(zk.session(), root)


def test_the_machine_record_mirrors_every_machine_field():
    record_fields = set(MachineRecord.model_fields) - {"v"}
    assert record_fields == {f.name for f in dataclasses.fields(Machine)}


def test_connecting_where_nothing_listens_raises_registry_unavailable_naming_the_hosts():
    settings = ZkSettings(hosts="127.0.0.1:1", connect_timeout_s=0.5)
    with pytest.raises(RegistryUnavailable, match=r"127\.0\.0\.1:1"):
        connect(settings)


def test_settings_refuse_a_root_that_is_not_a_subtree_of_ours():
    for root in ("/", "imgproc", "/imgproc/", "/zookeeper"):
        with pytest.raises(ValueError):
            ZkSettings(root=root)
