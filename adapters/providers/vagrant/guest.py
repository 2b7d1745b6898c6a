"""The settings a guest's worker runs with, and where it reaches the host's services.

Guests sign in with their fleet's credentials (:class:`FleetCredentials`): a RabbitMQ user
and an S3 identity of their own, made by scripts/ensure-services.sh, never RabbitMQ's
``guest`` (loopback-only, which a relay would otherwise open to the VM network) nor the
host's own S3 identity. The storage secret goes into the guests' settings as a value:
their EnvironmentFile is readable by root alone, on the host (0600) and in the guest.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from imgproc.adapters.providers.vagrant.relay import TcpRelay
from imgproc.adapters.secrets import read_secret
from imgproc.core.addresses import parse_zk_hosts
from imgproc.core.errors import ImgprocError, ProviderError

log = logging.getLogger(__name__)

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
FLEET_USER = "imgproc-fleet"
FLEET_DIR = Path("/var/lib/imgproc/fleet")


@dataclass(frozen=True)
class FleetCredentials:
    """What the worker VMs sign in with: a RabbitMQ user and an S3 identity."""

    rabbit_user: str
    rabbit_password: str
    s3_access_key_id: str
    s3_secret: str

    @classmethod
    def from_dir(cls, directory: Path) -> FleetCredentials:
        """The credentials scripts/ensure-services.sh keeps in ``directory``."""
        try:
            return cls(FLEET_USER,
                       read_secret(directory / "rabbit-password", "the fleet's broker password"),
                       FLEET_USER,
                       read_secret(directory / "s3-secret-access-key", "the fleet's S3 secret"))
        except ImgprocError as exc:
            raise ProviderError(f"no credentials for the worker VMs ({exc}); "
                                "scripts/ensure-services.sh makes them, or set "
                                "provider.options.fleet_credentials_dir") from exc


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def reach_from_guests(host: str, port: int, gateway: str,
                      relays: list[TcpRelay]) -> tuple[str, int]:
    """Where guests reach a host service that the host reaches at (host, port)."""
    if not _is_loopback(host):
        return host, port
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((gateway, port))
    except OSError:
        listener.close()
        # Taken: the service itself listens on every address (or another relay of ours does).
        try:
            socket.create_connection((gateway, port), timeout=5).close()
        except OSError as exc:
            raise ProviderError(f"guests cannot reach {host}:{port} "
                                f"at {gateway}:{port}: {exc}") from exc
        return gateway, port
    listener.listen(64)
    relays.append(TcpRelay(listener, (host, port)))
    log.info("relaying %s:%s to %s:%s for the VMs", gateway, port, host, port)
    return gateway, port


def guest_settings(settings: Mapping[str, Any], gateway: str, relays: list[TcpRelay],
                   fleet: FleetCredentials) -> dict[str, Any]:
    """The settings a guest's worker runs with: the host's, with the broker, ZooKeeper and
    the object store at addresses the guest reaches, the fleet's credentials, and no
    provider section."""
    guest = json.loads(json.dumps(dict(settings)))
    guest.pop("provider", None)
    guest.pop("backend", None)
    rabbit = guest.get("rabbit") or {}
    rabbit.pop("url_file", None)  # a host path: the guest gets the URL itself
    parts = urlsplit(rabbit.get("url", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    host, port = reach_from_guests(parts.hostname or "127.0.0.1", parts.port or 5672,
                                   gateway, relays)
    userinfo = f"{quote(fleet.rabbit_user, safe='')}:{quote(fleet.rabbit_password, safe='')}"
    rabbit["url"] = urlunsplit(parts._replace(netloc=f"{userinfo}@{host}:{port}"))
    guest["rabbit"] = rabbit
    guest["storage"] = guest_storage(guest.get("storage") or {}, gateway, relays, fleet)
    zk = guest.get("zk") or {}
    hosts = parse_zk_hosts(zk.get("hosts") or "127.0.0.1:2181")
    servers = tuple(reach_from_guests(h, p, gateway, relays) for h, p in hosts.servers)
    zk["hosts"] = replace(hosts, servers=servers).render()
    guest["zk"] = zk
    return guest


def guest_storage(storage: dict[str, Any], gateway: str, relays: list[TcpRelay],
                  fleet: FleetCredentials) -> dict[str, Any]:
    """The object store as the guests reach it, with the fleet's S3 identity."""
    parts = urlsplit(storage.get("endpoint_url", "http://127.0.0.1:8333"))
    if parts.hostname:
        default_port = 443 if parts.scheme == "https" else 80
        host, port = reach_from_guests(parts.hostname, parts.port or default_port, gateway,
                                       relays)
        storage["endpoint_url"] = urlunsplit(parts._replace(netloc=f"{host}:{port}"))
    storage.pop("secret_access_key_file", None)
    storage["access_key_id"] = fleet.s3_access_key_id
    storage["secret_access_key"] = fleet.s3_secret
    return storage
