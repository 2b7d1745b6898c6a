"""The scaler's live configuration and the active scaler's status, on ZooKeeper.

``<root>/config/scaler`` holds a JSON :class:`ScalerConfig`: an operator
writes it, the active scaler watches it (kazoo's ``DataWatch``) and switches
policy without a restart. ``<root>/scaler/status`` holds a JSON
:class:`ScalerStatus` that the active scaler writes when it applies a
configuration, so the console can show who leads and with which policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError
from kazoo.protocol.states import ZnodeStat
from kazoo.retry import ForceRetryError
from pydantic import ValidationError

from imgproc.adapters.zk.client import CorruptRecord, zk_errors
from imgproc.adapters.zk.layout import DEFAULT_ROOT, Layout
from imgproc.core.messages import BadMessage, ScalerConfig, ScalerStatus
from imgproc.core.validation import first_problem

log = logging.getLogger(__name__)


def decode_config(path: str, data: bytes | None) -> ScalerConfig | None:
    """The config in a node's data (``None`` for no node); raises :class:`CorruptRecord`."""
    if data is None:
        return None
    try:
        return ScalerConfig.decode(data)
    except BadMessage as exc:
        raise CorruptRecord(path, exc.reason) from exc


def decode_status(path: str, data: bytes | None) -> ScalerStatus | None:
    """The status in a node's data (``None`` for no node); raises :class:`CorruptRecord`."""
    if data is None:
        return None
    try:
        return ScalerStatus.model_validate_json(data)
    except ValidationError as exc:
        raise CorruptRecord(path, first_problem(exc, "<record>")) from exc


class ZkConfigStore:
    """:class:`~imgproc.core.ports.ConfigStore` on ``<root>/config/scaler``."""

    def __init__(self, client: KazooClient, root: str = DEFAULT_ROOT) -> None:
        self._client = client
        self._path = Layout(root).scaler_config
        self._closed = False

    def close(self) -> None:
        """End the watches set through this store (kazoo drops each at its next event): a
        scaler that leads again after a lost session watches through a new store."""
        self._closed = True

    def read(self) -> ScalerConfig | None:
        """The stored config, or ``None`` if none was written."""
        return decode_config(self._path, _read(self._client, self._path, "read scaler config"))

    def write(self, config: ScalerConfig) -> None:
        """Store ``config``, replacing any previous one."""
        _write(self._client, self._path, config.encode(), "write scaler config")

    def delete(self) -> None:
        """Remove the config; watchers are called with ``None``."""
        with zk_errors("delete scaler config"), suppress(NoNodeError):
            self._client.retry(self._client.delete, self._path)

    def watch(self, callback: Callable[[ScalerConfig | None], None]) -> None:
        """Call ``callback`` now and on every change; ``None`` when there is no config.

        The callback runs on kazoo's event thread: it must return quickly. A
        corrupt record is logged and skipped; an exception in the callback is
        logged and the watch goes on.
        """
        path = self._path

        def on_change(data: bytes | None, _stat: ZnodeStat | None) -> bool:
            if self._closed:
                return False  # kazoo's DataWatch stops here
            try:
                config = decode_config(path, data)
            except CorruptRecord:
                log.exception("ignoring an invalid scaler config at %s", path)
                return True
            try:
                callback(config)
            except Exception:
                log.exception("scaler config callback failed for %s", path)
            return True

        with zk_errors("watch scaler config"):
            self._client.DataWatch(path, on_change)


class ZkScalerStatus:
    """Read and write ``<root>/scaler/status``."""

    def __init__(self, client: KazooClient, root: str = DEFAULT_ROOT) -> None:
        self._client = client
        self._path = Layout(root).scaler_status

    def read(self) -> ScalerStatus | None:
        """The last status written, or ``None``."""
        return decode_status(self._path, _read(self._client, self._path, "read scaler status"))

    def write(self, status: ScalerStatus) -> None:
        """Replace the status."""
        _write(self._client, self._path, status.model_dump_json().encode(), "write scaler status")


def _read(client: KazooClient, path: str, action: str) -> bytes | None:
    with zk_errors(action):
        try:
            data: bytes = client.retry(client.get, path)[0]
        except NoNodeError:
            return None
    return data


def _write(client: KazooClient, path: str, data: bytes, action: str) -> None:
    """Set ``path`` to ``data``, creating it (and its parents) if missing."""

    def put() -> None:
        try:
            client.set(path, data)
        except NoNodeError:
            try:
                client.create(path, data, makepath=True)
            except NodeExistsError as exc:
                raise ForceRetryError(f"{path} was created meanwhile") from exc

    with zk_errors(action):
        client.retry(put)
