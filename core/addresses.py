"""ZooKeeper's connection string, parsed one way everywhere.

``host:port,host:port/chroot``: servers separated by commas, an optional chroot
after the last one, IPv6 hosts in brackets, port 2181 when none is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from imgproc.core.errors import ConfigurationError

ZK_PORT = 2181


@dataclass(frozen=True)
class ZkHosts:
    servers: tuple[tuple[str, int], ...]
    chroot: str = ""

    def render(self) -> str:
        """Back to a connection string (servers' hosts may have been rewritten)."""
        servers = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.servers)
        return servers + self.chroot


def parse_zk_hosts(hosts: str) -> ZkHosts:
    """The servers and chroot of ``hosts``; raises ConfigurationError on a bad port."""
    servers_text, slash, chroot = hosts.strip().partition("/")
    servers = []
    for item in servers_text.split(","):
        item = item.strip()
        if not item:
            continue
        host, port = _host_and_port(item)
        servers.append((host, port))
    if not servers:
        raise ConfigurationError(f"zookeeper hosts {hosts!r}: no server given")
    return ZkHosts(tuple(servers), slash + chroot if slash else "")


def _host_and_port(item: str) -> tuple[str, int]:
    if item.startswith("["):  # [::1]:2181
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif item.count(":") == 1:
        host, _, port_text = item.partition(":")
    else:  # a bare host name, or a bare IPv6 address
        host, port_text = item, ""
    if not port_text:
        return host, ZK_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError(f"zookeeper server {item!r}: port must be 1-65535")
    return host, int(port_text)
