"""Connecting to ZooKeeper, and the errors the ZooKeeper adapters raise.

:func:`connect` builds a :class:`KazooClient` whose connection and command
retries are kazoo's own :class:`KazooRetry`, configured from
:class:`ZkSettings`. :func:`zk_errors` is the one place where kazoo's
exceptions become ours, chained with ``from exc``: a caller handles
:class:`RegistryUnavailable` (retryable later: the service or the session is
gone) apart from the errors about the data itself.

While the connection is down, kazoo holds a command until it is back (the
connection retry reconnects forever), and a session that expired meanwhile is
replaced by a new one, on which the command retry runs it again: so a command
waits out an outage of any length, and :class:`RegistryUnavailable` means that
the connection dropped under it more often than the command retry allows.
What lived in the old session (ephemeral nodes, leadership) is the caller's to
restore: ``liveness`` and ``election`` do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionLoss,
    KazooException,
    OperationTimeoutError,
    SessionExpiredError,
    ZookeeperStoppedError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry, RetryFailedError

from imgproc.adapters.zk.settings import ZkSettings
from imgproc.core.errors import ImgprocError

#: Kazoo errors that mean "ZooKeeper or our session is not there right now".
UNAVAILABLE = (ConnectionLoss, OperationTimeoutError, SessionExpiredError,
               ZookeeperStoppedError, RetryFailedError, KazooTimeoutError)


class RegistryUnavailable(ImgprocError):
    """ZooKeeper could not be reached, or the session ended; the action may be retried later."""

    def __init__(self, action: str, problem: str) -> None:
        self.action = action
        self.problem = problem
        super().__init__(f"cannot {action}: {problem}")


class RegistryError(ImgprocError):
    """ZooKeeper refused an action for a reason other than availability."""

    def __init__(self, action: str, problem: str) -> None:
        self.action = action
        self.problem = problem
        super().__init__(f"cannot {action}: {problem}")


class MachineExists(ImgprocError):
    """A machine id that the registry already holds was created again."""

    def __init__(self, machine_id: str) -> None:
        self.machine_id = machine_id
        super().__init__(f"machine {machine_id} already exists in the registry")


class WorkerAlreadyAnnounced(ImgprocError):
    """Another live session already announced this worker id."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        super().__init__(f"worker {worker_id} is already announced by another live session")


class CorruptRecord(ImgprocError):
    """A node holds data that is not a valid record of the expected kind and version."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"node {path} holds an invalid record: {problem}")


class WriteConflict(ImgprocError):
    """A compare-and-set kept losing to concurrent writers and gave up."""

    def __init__(self, path: str, tries: int) -> None:
        self.path = path
        self.tries = tries
        super().__init__(f"node {path}: gave up after {tries} conflicting concurrent writes")


@contextmanager
def zk_errors(action: str) -> Iterator[None]:
    """Translate kazoo exceptions raised inside the block into ours, naming ``action``."""
    try:
        yield
    except UNAVAILABLE as exc:
        raise RegistryUnavailable(action, _describe(exc)) from exc
    except KazooException as exc:
        raise RegistryError(action, _describe(exc)) from exc


def connect(settings: ZkSettings) -> KazooClient:
    """A started client with one live session; raises :class:`RegistryUnavailable`."""
    client = KazooClient(
        hosts=settings.hosts,
        timeout=settings.session_timeout_s,
        connection_retry=KazooRetry(**settings.connection_retry.as_kazoo()),
        command_retry=KazooRetry(**settings.command_retry.as_kazoo()),
    )
    try:
        client.start(timeout=settings.connect_timeout_s)
    except KazooTimeoutError as exc:
        raise RegistryUnavailable(
            f"connect to ZooKeeper at {settings.hosts}",
            f"no session within {settings.connect_timeout_s:g}s",
        ) from exc
    return client


def close(client: KazooClient) -> None:
    """End the session (its ephemeral nodes go with it) and free the client's sockets."""
    try:
        client.stop()
    finally:
        client.close()


@contextmanager
def connected(settings: ZkSettings) -> Iterator[KazooClient]:
    """``with connected(settings) as client:`` connects, and closes on the way out."""
    client = connect(settings)
    try:
        yield client
    finally:
        close(client)


def _describe(exc: BaseException) -> str:
    detail = str(exc)
    name = type(exc).__name__
    return f"{name}: {detail}" if detail and detail != "()" else name
