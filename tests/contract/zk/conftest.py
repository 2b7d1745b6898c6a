"""Fixtures for the registry contract: every test runs on the in-memory twins and on ZooKeeper.

A ZooKeeper test gets a fresh random root (like kazoo's own harness), deleted
afterwards, so tests never see each other's nodes. When ZooKeeper does not
answer, the ZooKeeper half FAILS with a message saying how to start it: these
are contract tests, and a silent skip would hide a broken setup.
``IMGPROC_TEST_ZK_HOSTS`` points them at another server (default 127.0.0.1:2181).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient

from imgproc.adapters.memory.registry import (
    MemoryConfigStore,
    MemoryLiveness,
    MemoryMachineRegistry,
    MemoryScalerStatus,
    MemorySession,
    MemoryWorkerBoard,
)
from imgproc.adapters.zk.client import RegistryUnavailable, close, connect
from imgproc.adapters.zk.config import ZkConfigStore, ZkScalerStatus
from imgproc.adapters.zk.liveness import ZkLiveness
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.adapters.zk.settings import ZkSettings
from imgproc.adapters.zk.tree import clear
from imgproc.core.machines import Machine, MachineState

HOW_TO_START = "start it with scripts/ensure-services.sh"


class MemoryBackend:
    """One shared in-memory "server"; a session is a MemorySession."""

    name = "memory"

    def __init__(self) -> None:
        self._registry = MemoryMachineRegistry()
        self._board = MemoryWorkerBoard()
        self._config = MemoryConfigStore()
        self._status = MemoryScalerStatus()

    def session(self) -> MemorySession:
        return MemorySession()

    def close_session(self, session: MemorySession) -> None:
        session.close()

    def registry(self, session: Any = None) -> MemoryMachineRegistry:
        return self._registry

    def liveness(self, session: MemorySession) -> MemoryLiveness:
        return MemoryLiveness(self._board, session)

    def config(self, session: Any = None) -> MemoryConfigStore:
        return self._config

    def status(self, session: Any = None) -> MemoryScalerStatus:
        return self._status

    def write_raw(self, name: str, data: bytes) -> None:
        """Put ``data`` at ``machines/<name>`` as a foreign client could: unchecked (the twin
        keeps node data by name, as ZooKeeper does)."""
        self._registry._records[name] = data

    def close(self) -> None:
        """Nothing to release."""


class ZkBackend:
    """A fresh root on a real ZooKeeper; a session is a connected KazooClient."""

    name = "zookeeper"

    def __init__(self, settings: ZkSettings) -> None:
        self.settings = settings
        self.root = settings.root
        self._sessions: list[KazooClient] = []
        self._default: KazooClient | None = None

    def session(self) -> KazooClient:
        client = connect(self.settings)
        self._sessions.append(client)
        return client

    def close_session(self, session: KazooClient) -> None:
        close(session)

    def registry(self, session: KazooClient | None = None) -> ZkMachineRegistry:
        return ZkMachineRegistry(session or self._shared(), self.root)

    def liveness(self, session: KazooClient) -> ZkLiveness:
        return ZkLiveness(session, self.root)

    def config(self, session: KazooClient | None = None) -> ZkConfigStore:
        return ZkConfigStore(session or self._shared(), self.root)

    def status(self, session: KazooClient | None = None) -> ZkScalerStatus:
        return ZkScalerStatus(session or self._shared(), self.root)

    def write_raw(self, name: str, data: bytes) -> None:
        """Put ``data`` at ``machines/<name>`` with kazoo, unchecked, as a foreign client could."""
        self._shared().create(f"{self.root}/machines/{name}", data, makepath=True)

    def close(self) -> None:
        for client in self._sessions:
            close(client)

    def _shared(self) -> KazooClient:
        if self._default is None:
            self._default = self.session()
        return self._default


@pytest.fixture(scope="session")
def zk_settings() -> ZkSettings:
    hosts = os.environ.get("IMGPROC_TEST_ZK_HOSTS", "127.0.0.1:2181")
    return ZkSettings(hosts=hosts, connect_timeout_s=3.0, session_timeout_s=6.0)


@pytest.fixture(scope="session")
def zk_admin(zk_settings: ZkSettings) -> Iterator[KazooClient]:
    """One client for setting up and removing test roots; fails fast if ZooKeeper is down."""
    try:
        client = connect(zk_settings)
    except RegistryUnavailable as exc:
        pytest.fail(f"ZooKeeper is not reachable ({exc}); {HOW_TO_START}", pytrace=False)
    yield client
    close(client)


@pytest.fixture
def zk_root(zk_admin: KazooClient) -> Iterator[str]:
    root = f"/imgproc-test-{uuid.uuid4().hex[:12]}"
    yield root
    clear(zk_admin, root)


@pytest.fixture
def zk(zk_settings: ZkSettings, zk_root: str) -> Iterator[ZkBackend]:
    backend = ZkBackend(zk_settings.model_copy(update={"root": zk_root}))
    yield backend
    backend.close()


@pytest.fixture(params=["memory", "zookeeper"])
def backend(request: pytest.FixtureRequest) -> Iterator[MemoryBackend | ZkBackend]:
    if request.param == "memory":
        memory = MemoryBackend()
        yield memory
        memory.close()
    else:
        yield request.getfixturevalue("zk")


@pytest.fixture
def make_machine() -> Callable[..., Machine]:
    def make(machine_id: str = "m1", state: MachineState = MachineState.RUNNING,
             at: float = 100.0, **fields: Any) -> Machine:
        return Machine(id=machine_id, state=state, requested_at=at, state_since=at, **fields)

    return make
