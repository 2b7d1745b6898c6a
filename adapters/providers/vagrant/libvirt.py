"""What the provider asks libvirt directly (``virsh``): our domains, and the VMs' network."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import subprocess
import tempfile
from pathlib import Path

from imgproc.core.errors import ProviderError

log = logging.getLogger(__name__)

DOMAIN_PREFIX = "imgproc_"  # every domain of ours starts so (vagrant-libvirt's default_prefix)
LIBVIRT_URI = "qemu:///system"


def virsh(*args: str, timeout_s: float = 30.0, check: bool = True) -> str:
    try:
        done = subprocess.run(["virsh", "-c", LIBVIRT_URI, *args], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProviderError(f"virsh {' '.join(args)}: {exc}") from exc
    if check and done.returncode != 0:
        raise ProviderError(f"virsh {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def our_domains(all_states: bool = False, prefix: str = DOMAIN_PREFIX) -> set[str]:
    """Names of libvirt domains made by imgproc (running ones, or all) that start with
    ``prefix``."""
    out = virsh("list", "--name", *(["--all"] if all_states else []), timeout_s=15)
    return {name for name in out.split() if name.startswith(prefix)}


def domain_prefix(state_dir: Path) -> str:
    """The prefix of this state directory's domains: deployers with different state
    directories on one host never take each other's VMs for orphans."""
    digest = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:6]
    return f"{DOMAIN_PREFIX}{digest}_"


def network_xml(name: str, address: str) -> str:
    net = ipaddress.ip_network(address, strict=False)
    hosts = list(net.hosts())
    gateway, first, last = hosts[0], hosts[1], hosts[-1]
    return (f"<network><name>{name}</name><forward mode='nat'/>"
            f"<ip address='{gateway}' netmask='{net.netmask}'>"
            f"<dhcp><range start='{first}' end='{last}'/></dhcp></ip></network>")


def ensure_network(name: str, address: str) -> tuple[str, bool]:
    """The VMs' network (vagrant-libvirt's management network) up, and the host's
    address on it. Created (transient) when missing, exactly as vagrant-libvirt
    would, so that it is there before the first VM, for the relays.
    Returns (host address, whether we created it)."""
    created = False
    info = virsh("net-info", name, check=False)
    if "Name:" not in info:
        with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
            f.write(network_xml(name, address))
        try:
            virsh("net-create", f.name)
            created = True
        finally:
            os.unlink(f.name)
    elif re.search(r"^Active:\s+no", info, re.MULTILINE):
        virsh("net-start", name)
    xml = virsh("net-dumpxml", name)
    match = re.search(r"<ip[^>]*\baddress=['\"]([0-9.]+)['\"]", xml)
    if not match:
        raise ProviderError(f"network {name} has no IPv4 address")
    return match.group(1), created
