"""Fixtures for the messaging contract tests: one kit per broker, in memory and RabbitMQ.

``broker_kit`` runs a test once on a :class:`MemoryKit` and once on a
:class:`RabbitKit`; both make the same ports, so each behaviour is written once.

RabbitMQ isolation: the session makes its own vhost with rabbitmqctl (and
removes it at the end, leftovers included); each test then works under a
unique name prefix, and its queues and exchange are deleted after it. The
broker is the local one (``IMGPROC_TEST_RABBIT_URL`` names another; rabbitmqctl
must reach it). When RabbitMQ cannot be reached, every RabbitMQ test fails,
saying how to start it.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from polling import wait_for

from imgproc.adapters.memory.broker import MemoryBroker
from imgproc.adapters.rabbit import (
    RabbitCommandBus,
    RabbitJobPublisher,
    RabbitJobSource,
    RabbitReadyCount,
    RabbitResultFeed,
    RabbitResultLookup,
    RabbitResultSink,
    RabbitSettings,
)
from imgproc.adapters.rabbit.connection import RabbitLink
from imgproc.adapters.rabbit.errors import describe
from imgproc.core.messages import JobMessage

START_HINT = "start it with scripts/ensure-services.sh"


def make_job(n: int) -> JobMessage:
    return JobMessage(job_id=f"job-{n}", submitted_at=1_700_000_000.0 + n, service_s=0.01)


def rabbitmqctl(*args: str) -> str:
    try:
        proc = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"rabbitmqctl {args[0]}: {exc}; {START_HINT}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {proc.stderr.strip()}", pytrace=False)
    return proc.stdout


class _Kit:
    name = ""

    def __init__(self, settings: RabbitSettings) -> None:
        self.settings = settings
        self._opened: list[Any] = []

    def keep(self, thing: Any) -> Any:
        self._opened.append(thing)
        return thing

    def close_all(self) -> None:
        for thing in reversed(self._opened):
            thing.close()

    job = staticmethod(make_job)


class MemoryKit(_Kit):
    """The ports of one in-memory broker."""

    name = "memory"

    def __init__(self) -> None:
        self.broker = MemoryBroker()
        super().__init__(self.broker.settings)

    def publisher(self) -> Any:
        return self.keep(self.broker.job_publisher())

    def source(self, queue: str | None = None) -> Any:
        return self.keep(self.broker.job_source(queue))

    def sink(self) -> Any:
        return self.keep(self.broker.result_sink())

    def feed(self, durable: bool = False) -> Any:
        return self.keep(self.broker.result_feed(durable))

    def ready(self, queue: str | None = None) -> int:
        return self.broker.ready_count(queue).ready()

    def bus(self) -> Any:
        return self.keep(self.broker.command_bus())

    def inject_result(self, body: bytes) -> None:
        self.broker.fanout(body, "injected")

    def lookup(self) -> Any:
        return self.keep(self.broker.result_lookup())


class RabbitKit(_Kit):
    """The RabbitMQ adapters under one test's name prefix."""

    name = "rabbit"

    def __init__(self, settings: RabbitSettings) -> None:
        super().__init__(settings)
        self._counters: dict[str | None, RabbitReadyCount] = {}

    def publisher(self) -> Any:
        return self.keep(RabbitJobPublisher(self.settings))

    def source(self, queue: str | None = None) -> Any:
        return self.keep(RabbitJobSource(self.settings, queue))

    def sink(self) -> Any:
        return self.keep(RabbitResultSink(self.settings))

    def feed(self, durable: bool = False) -> Any:
        return self.keep(RabbitResultFeed(self.settings, durable))

    def ready(self, queue: str | None = None) -> int:
        if queue not in self._counters:
            self._counters[queue] = self.keep(RabbitReadyCount(self.settings, queue))
        return self._counters[queue].ready()

    def bus(self) -> Any:
        return self.keep(RabbitCommandBus(self.settings))

    def lookup(self) -> Any:
        return self.keep(RabbitResultLookup(self.settings))

    def inject_result(self, body: bytes) -> None:
        link = self.keep(RabbitLink(self.settings, "test-injector"))
        link.publish("injecting a result", self.settings.results_exchange, "", body,
                     message_id="injected", mandatory=False)

    def delete_everything(self) -> None:
        s = self.settings
        queues = [s.jobs_queue, s.dead_letter_queue, s.deployer_queue, s.callback_queue,
                  s.kept_results_queue, f"{s.jobs_queue}.migrating"]
        link = RabbitLink(s, "test-cleanup", declare=False)
        try:
            for queue in queues:
                link.run(f"deleting {queue}", lambda ch, q=queue: ch.queue_delete(q))
            link.run("deleting the exchange", lambda ch: ch.exchange_delete(s.results_exchange))
        finally:
            link.close()


class RabbitServer:
    """What only the broker's operator can do: close a client's connection."""

    def connection_pids(self) -> dict[str, str]:
        """The broker's process id of each open connection, by the client's connection_name."""
        out = rabbitmqctl("--no-table-headers", "list_connections", "pid", "state",
                          "client_properties")
        pids: dict[str, str] = {}
        for line in out.splitlines():
            pid, state, props = [*line.split("\t", 2), "", ""][:3]
            marker = '{"connection_name","'
            if marker in props and state not in ("closing", "closed"):
                pids[props.split(marker, 1)[1].split('"', 1)[0]] = pid
        return pids

    def close_connection(self, connection_name: str) -> None:
        """Close it from the broker's side, and wait until the broker lists it as closed.

        Closed, not gone: the broker forgets it only once the client reads the close.
        """
        pid = self.connection_pids().get(connection_name)
        assert pid, f"the broker lists no connection named {connection_name}"
        rabbitmqctl("close_connection", pid, "closed by a contract test")
        wait_for(lambda: self.connection_pids().get(connection_name) != pid,
                 f"the broker to close {connection_name}", timeout_s=10.0)


@pytest.fixture(scope="session")
def rabbit_session_settings() -> Iterator[RabbitSettings]:
    url = os.environ.get("IMGPROC_TEST_RABBIT_URL", RabbitSettings().url)
    base = RabbitSettings(url=url, connect_attempts=20, backoff_s=0.05, max_backoff_s=0.5)
    problem = ""
    try:
        pika.BlockingConnection(pika.URLParameters(base.url)).close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: not reachable
        problem = describe(exc)
    if problem:
        pytest.fail(f"RabbitMQ is not reachable at {base.safe_url} ({problem}); {START_HINT}",
                    pytrace=False)
    vhost = f"imgproc-test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield base.with_vhost(vhost)
    rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def rabbit_kit(rabbit_session_settings: RabbitSettings) -> Iterator[RabbitKit]:
    kit = RabbitKit(rabbit_session_settings.isolated(f"t-{uuid.uuid4().hex[:10]}."))
    yield kit
    kit.close_all()
    kit.delete_everything()


@pytest.fixture
def memory_kit() -> Iterator[MemoryKit]:
    kit = MemoryKit()
    yield kit
    kit.close_all()


@pytest.fixture(params=["memory", "rabbit"])
def broker_kit(request: pytest.FixtureRequest) -> _Kit:
    return request.getfixturevalue(f"{request.param}_kit")


@pytest.fixture
def rabbit_server() -> RabbitServer:
    return RabbitServer()
