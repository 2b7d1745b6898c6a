"""Fixtures of the integration tests: the services (failing, not skipping, when they are
down) and one isolated :class:`~it_support.LiveRig` per test, cleaned up even on failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from dumping_rig import add_dump
from it_support import START_HINT, LiveRig
from kazoo.client import KazooClient

from imgproc.adapters.rabbit import RabbitSettings
from imgproc.adapters.rabbit.errors import describe
from imgproc.adapters.zk.client import RegistryUnavailable, close, connect
from imgproc.adapters.zk.settings import ZkSettings


@pytest.fixture(scope="session")
def services() -> Iterator[tuple[RabbitSettings, ZkSettings, KazooClient]]:
    """The base settings of both services and an admin ZooKeeper client; fails if either is down."""
    rabbit = RabbitSettings(url=os.environ.get("IMGPROC_TEST_RABBIT_URL", RabbitSettings().url))
    try:
        pika.BlockingConnection(pika.URLParameters(rabbit.url)).close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: not reachable
        pytest.fail(f"RabbitMQ is not reachable at {rabbit.safe_url} ({describe(exc)}); "
                    f"{START_HINT}", pytrace=False)
    zk = ZkSettings(hosts=os.environ.get("IMGPROC_TEST_ZK_HOSTS", "127.0.0.1:2181"),
                    connect_timeout_s=5.0)
    try:
        admin = connect(zk)
    except RegistryUnavailable as exc:
        pytest.fail(f"ZooKeeper is not reachable at {zk.hosts} ({exc}); {START_HINT}",
                    pytrace=False)
    yield rabbit, zk, admin
    close(admin)


@pytest.fixture
def rig(services, tmp_path: Path) -> Iterator[LiveRig]:
    base_rabbit, base_zk, admin = services
    live = LiveRig(base_rabbit, base_zk, admin, tmp_path)
    try:
        yield live
    finally:
        live.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On a failure that did not already show it, add what the live system said to the report."""
    outcome = yield
    add_dump(item, outcome.get_result(), "live system: child output, worker logs, records")

