"""The settings a guest's worker runs with, and where it reaches the host's services."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from imgproc.adapters.providers.vagrant.relay import TcpRelay
from imgproc.core.addresses import parse_zk_hosts
from imgproc.core.errors import ProviderError

log = logging.getLogger(__name__)

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


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


def guest_settings(settings: Mapping[str, Any], gateway: str,
                   relays: list[TcpRelay]) -> dict[str, Any]:
    """The settings a guest's worker runs with: the host's, with the broker and
    ZooKeeper at addresses the guest reaches, and no provider section."""
    guest = json.loads(json.dumps(dict(settings)))
    guest.pop("provider", None)
    guest.pop("backend", None)
    rabbit = guest.get("rabbit") or {}
    parts = urlsplit(rabbit.get("url", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    host, port = reach_from_guests(parts.hostname or "127.0.0.1", parts.port or 5672,
                                   gateway, relays)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    rabbit["url"] = urlunsplit(parts._replace(netloc=netloc))
    guest["rabbit"] = rabbit
    zk = guest.get("zk") or {}
    hosts = parse_zk_hosts(zk.get("hosts") or "127.0.0.1:2181")
    servers = tuple(reach_from_guests(h, p, gateway, relays) for h, p in hosts.servers)
    zk["hosts"] = replace(hosts, servers=servers).render()
    guest["zk"] = zk
    return guest
