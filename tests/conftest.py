"""The test tiers: every test that needs a real service or VM carries its marker, found from
what it uses, so that no test can forget it.

- ``services``: a real RabbitMQ, ZooKeeper or S3 server (SeaweedFS), through a fixture that
  connects to one (the contract tests' real halves, the integration tests), or the marker
  set by hand;
- ``vagrant``: Vagrant, libvirt or Puppet on the host, or real VMs (everything in
  ``tests/vagrant``).

``scripts/test --fast`` runs the rest (``-m "not services and not vagrant"``): seconds,
no service, nothing installed on the host.

- ``exclusive``: a test that must have the host to itself (it stops or kills a shared
  service, boots VMs, kills cluster nodes, or compares timings), set by hand or for all of
  ``tests/cluster``. ``scripts/test`` runs every other test two at a
  time (each test has its own vhost, ZooKeeper root and object prefix), then these alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imgproc.adapters.storage.s3 import s3_client
from imgproc.adapters.storage.settings import StorageSettings

VAGRANT_TESTS = Path(__file__).parent / "vagrant"
CLUSTER_TESTS = Path(__file__).parent / "cluster"
SERVICE_FIXTURES = frozenset({
    "rabbit_session_settings",  # contract/rabbit: the session's vhost on the real broker
    "zk_admin",                 # contract/zk: a client of the real ZooKeeper
    "services",                 # integration: both services
    "cluster",                  # cluster: scripts/cluster.sh's RabbitMQ cluster and ZK ensemble
    "s3_settings",              # contract/storage: the real SeaweedFS's S3
})
# Fixtures parametrized over an in-memory twin and the real service: only the real half
# needs the service.
REAL_PARAMS = {"broker_kit": "rabbit", "backend": "zookeeper", "object_store": "s3"}


def needs_services(item: pytest.Item) -> bool:
    if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    return any(params.get(name) == real for name, real in REAL_PARAMS.items())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if needs_services(item):
            item.add_marker(pytest.mark.services)
        parents = Path(item.path).parents
        if VAGRANT_TESTS in parents:
            item.add_marker(pytest.mark.vagrant)
        if CLUSTER_TESTS in parents:
            item.add_marker(pytest.mark.exclusive)


@pytest.fixture(scope="session")
def s3_settings() -> StorageSettings:
    """The S3 server scripts/ensure-services.sh starts (SeaweedFS), with its secret; fails,
    never skips, when it does not answer."""
    settings = StorageSettings(retry_s=5.0)
    try:
        client = s3_client(settings)
        client.head_bucket(Bucket=settings.bucket)
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means: not usable
        pytest.fail(f"the S3 server at {settings.endpoint_url} is not usable ({exc}); start it "
                    "with scripts/ensure-services.sh", pytrace=False)
    return settings
