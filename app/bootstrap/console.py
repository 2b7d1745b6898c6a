"""The console's backend, chosen and built: the simulator, or the live system when its
services answer (or when asked for)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from imgproc.adapters.memory.tree import MemoryTree, RunMirror
from imgproc.adapters.providers import provider_names
from imgproc.adapters.trace_files import read_trace
from imgproc.core.addresses import parse_zk_hosts
from imgproc.core.errors import ImgprocError
from imgproc.core.ports import TreeMirror
from imgproc.core.trace import Trace
from imgproc.settings import Settings
from imgproc.tui.model import ConsoleBackend
from imgproc.tui.sim_backend import DEFAULT_SPEED, MirrorFactory, SimBackend

__all__ = ["build_sim_console", "open_console", "provider_names", "service_addresses"]

PROBE_TIMEOUT_S = 0.5
NO_SERVICE = "no service reachable: running on the simulator"


def load_trace(path: Path) -> Trace:
    return read_trace(path).trace


def mirror_in_memory(root: str, clock: Callable[[], float]) -> TreeMirror:
    return RunMirror(MemoryTree(root, clock=clock))


def build_sim_console(settings: Settings, trace: Path | None, notice: str | None = None, *,
                      speed: float = DEFAULT_SPEED, traces: Callable[[Path], Trace] = load_trace,
                      new_mirror: MirrorFactory = mirror_in_memory) -> SimBackend:
    """The simulator replaying ``trace``, its ZooKeeper tree mirrored in memory."""
    return SimBackend(settings, traces, new_mirror, trace, speed=speed, notice=notice)


def service_addresses(settings: Settings) -> list[tuple[str, int]]:
    """Each RabbitMQ node's host and port, then each ZooKeeper server's."""
    brokers = [urlsplit(url) for url in settings.rabbit.urls]
    found = [(b.hostname or "127.0.0.1", b.port or 5672) for b in brokers]
    return found + list(parse_zk_hosts(settings.zk.hosts).servers)


def reachable(address: tuple[str, int], timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``address`` opens within ``timeout_s``."""
    try:
        with socket.create_connection(address, timeout=timeout_s):
            return True
    except OSError:
        return False


def open_console(settings: Settings, backend: str | None, trace: Path | None,
                 read_only: bool, default_trace: Path) -> ConsoleBackend:
    """The backend asked for; without one, live if its services answer, else the simulator.
    Raises ImgprocError when the live backend, asked for, cannot start."""
    from imgproc.bootstrap.live import build_live_console

    def sim(notice: str | None = None) -> SimBackend:
        chosen = trace or (default_trace if default_trace.is_file() else None)
        if chosen is None:
            notice = "; ".join(filter(None, [notice,
                                             f"no {default_trace}: press r to replay a trace"]))
        return build_sim_console(settings, chosen, notice)

    if backend == "sim":
        return sim()
    if backend == "live":
        return build_live_console(settings, start_components=not read_only)
    if not any(reachable(a) for a in service_addresses(settings)):
        return sim(NO_SERVICE)
    try:
        return build_live_console(settings, start_components=not read_only)
    except ImgprocError as exc:
        return sim(f"live services failed ({exc}): running on the simulator")
