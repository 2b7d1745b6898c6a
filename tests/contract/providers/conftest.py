"""Fixtures for the provider contract: one case per registered provider.

``case`` runs a test once per provider (memory, local, vagrant-parts), each made from
its ``ProviderSettings`` by its own ``from_settings``, so every promise of the port is
written once and held by all. A new provider gets its case here (``CASES``): the
contract fails until it has one.

- **memory**: the in-memory provider, as the registry makes it.
- **local**: real worker processes, but the worker is a few lines of Python that
  idles until SIGTERM (then notes that it finished its job and exits), so no
  RabbitMQ or ZooKeeper is needed.
- **vagrant-parts**: the real ``VagrantProvider`` with **fakes** for Vagrant and
  libvirt, because booting a VM takes minutes; the real thing is covered by
  ``tests/vagrant/test_vagrant_e2e.py``. A fake ``vagrant_factory`` records ``up``,
  ``ssh`` (the drain) and ``destroy`` and "boots" a domain in a fake libvirt, whose
  ``our_domains``, ``ensure_network`` and ``virsh`` replace the provider module's own
  (monkeypatch, as ``tests/vagrant/test_vagrant_provider_parts.py`` does);
  ``build_wheels`` is faked too and the box is given. Nothing here runs ``vagrant``
  or ``virsh``: the real ``virsh`` fails the test if anything reaches it, and ``PATH``
  holds neither. This case lives outside ``tests/vagrant``, so it is in the fast tier.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import imgproc.adapters.providers.vagrant.libvirt as libvirt_module
import imgproc.adapters.providers.vagrant.provider as vagrant_module
from imgproc.adapters.providers import ProviderSettings, build_provider
from imgproc.adapters.providers.environment import imgproc_variables
from imgproc.adapters.providers.local import LocalProvider
from imgproc.adapters.providers.vagrant import BoxInfo, VagrantProvider
from imgproc.adapters.providers.vagrant.libvirt import DOMAIN_PREFIX
from imgproc.core.errors import ProviderError

ROOT = Path(__file__).resolve().parents[3]

# The worker the local case runs: ``-c CODE OUT_DIR --machine-id ID``. It notes when its
# SIGTERM handling is in place, idles, and on SIGTERM notes that it drained and exits 0.
IDLE_WORKER = r"""
import pathlib, signal, sys, time
out = pathlib.Path(sys.argv[1])
machine_id = sys.argv[sys.argv.index("--machine-id") + 1]
def drain(signum, frame):
    (out / f"{machine_id}.drained").write_text("finished its job")
    sys.exit(0)
signal.signal(signal.SIGTERM, drain)
(out / f"{machine_id}.ready").write_text("ready")
time.sleep(600)
"""

# What the workers would run with. The services are on a documentation address (not
# loopback), so the Vagrant provider relays nothing and opens no socket.
WORKER_SETTINGS: Mapping[str, Any] = {
    "policy": "slo", "slo_s": 2.0,
    "rabbit": {"url": "amqp://guest:guest@192.0.2.10:5672/%2F"},
    "zk": {"hosts": "192.0.2.10:2181"},
}


@dataclass
class ProviderCase:
    """One provider under the contract, and how to see what the port does not show."""

    kind: str
    provider: Any
    worker_settings: Mapping[str, Any]
    """what the workers run with (every provider is built with these)"""
    options: dict[str, Any]
    """valid options that differ from the defaults (the registry test builds with them)"""
    expected_from: Callable[[ProviderSettings], dict[str, Any]]
    """what a provider built from these settings (and ``WORKER_SETTINGS``) holds"""
    made_with: Callable[[Any], dict[str, Any]]
    """what a provider was built with, in the terms of ``expected_from``"""
    drained: Callable[[str], bool]
    """whether the machine was asked to finish its job before it went"""
    fail_start_of: Callable[[str], None]
    """make starts of this machine fail as the real thing would (local: every start)"""
    ready: Callable[[str], bool] = lambda machine_id: True
    """whether a started machine would notice a drain (a process has its handler)"""
    held_starts: Callable[[], AbstractContextManager[bool]] = lambda: nullcontext(False)
    """while entered, starts stay under way until interrupted (if the kind can: True)"""
    cleanups: list[Callable[[], None]] = field(default_factory=list)


# -- memory ---------------------------------------------------------------------------------


def memory_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProviderCase:
    provider = build_provider(ProviderSettings(kind="memory"), WORKER_SETTINGS)
    return ProviderCase(
        kind="memory", provider=provider, worker_settings=WORKER_SETTINGS, options={},
        expected_from=lambda settings: {}, made_with=lambda p: {},
        # an in-memory machine has no job to finish: its stop is what it can show
        drained=lambda machine_id: machine_id in provider.stopped,
        fail_start_of=provider.refuse.add,
    )


# -- local ----------------------------------------------------------------------------------


def local_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProviderCase:
    out = tmp_path / "out"
    out.mkdir()
    command = [sys.executable, "-c", IDLE_WORKER, str(out)]
    settings = ProviderSettings(kind="local", state_dir=tmp_path / "state", drain_timeout_s=5.0,
                                options={"worker_command": command})
    provider = build_provider(settings, WORKER_SETTINGS)

    def fail_start_of(machine_id: str) -> None:
        provider.worker_command = [str(tmp_path / "no-such-worker")]

    def cleanup() -> None:
        """Whatever the test left running goes (a provider that kills at once)."""
        cleaner = LocalProvider(tmp_path / "state", [], drain_timeout_s=0.0)
        for machine_id in cleaner.alive():
            cleaner.stop(machine_id)
        for child in provider._children.values():
            if child.poll() is None:
                child.kill()
            child.wait(5)

    return ProviderCase(
        kind="local", provider=provider, worker_settings=WORKER_SETTINGS,
        options={"worker_command": [sys.executable, "-m", "some.worker", "--flag"]},
        expected_from=lambda s: {
            "state_dir": s.state_dir, "worker_command": s.options["worker_command"],
            "drain_timeout_s": s.drain_timeout_s,
            "worker environment": imgproc_variables(WORKER_SETTINGS)},
        made_with=lambda p: {
            "state_dir": p.state_dir, "worker_command": p.worker_command,
            "drain_timeout_s": p.drain_timeout_s,
            "worker environment": {k: v for k, v in (p.env or {}).items()
                                   if k.startswith("IMGPROC_")}},
        drained=lambda machine_id: (out / f"{machine_id}.drained").exists(),
        ready=lambda machine_id: (out / f"{machine_id}.ready").exists(),
        fail_start_of=fail_start_of,
        cleanups=[cleanup],
    )


# -- vagrant-parts --------------------------------------------------------------------------


class FakeLibvirt:
    """The domains and the network, as ``our_domains``, ``ensure_network`` and ``virsh``
    would see and change them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.defined: set[str] = set()
        self.running: set[str] = set()
        self.network_up = False
        self.calls: list[tuple[str, ...]] = []

    def our_domains(self, all_states: bool = False, prefix: str = DOMAIN_PREFIX) -> set[str]:
        with self.lock:
            self.calls.append(("list", "--all" if all_states else "running"))
            names = self.defined if all_states else self.running
            return {name for name in names if name.startswith(prefix)}

    def ensure_network(self, name: str, address: str) -> tuple[str, bool]:
        with self.lock:
            self.calls.append(("ensure-network", name))
            created = not self.network_up
            self.network_up = True
        return "192.168.121.1", created

    def virsh(self, *args: str, timeout_s: float = 30.0, check: bool = True) -> str:
        with self.lock:
            self.calls.append(("virsh", *args))
            if args[0] == "destroy":
                self.running.discard(args[1])
            elif args[0] == "undefine":
                self.defined.discard(args[1])
            elif args[0] == "net-destroy":
                self.network_up = False
        return ""

    def boot(self, domain: str) -> None:
        with self.lock:
            self.defined.add(domain)
            self.running.add(domain)

    def remove(self, domain: str) -> None:
        with self.lock:
            self.running.discard(domain)
            self.defined.discard(domain)


class FakeVagrant:
    """Stands in for the timed python-vagrant object of one run directory: records each
    command, and boots or destroys the machine's domain in the fake libvirt. Like the
    real one, a command interrupted (before or while it runs) raises ProviderError."""

    def __init__(self, run: Path, log_path: Path, fleet: FakeVagrantFleet) -> None:
        self.run = run
        self.log_path = log_path
        self.fleet = fleet
        self.machine_id = run.name
        self.timeout_s: float | None = None
        self.interrupted = threading.Event()

    def _domain(self) -> str:
        """Named as the real Vagrantfile names it: the prefix from machine.json, then the id."""
        return json.loads((self.run / "machine.json").read_text())["domain_prefix"] + self.run.name

    def _record(self, *what: str) -> None:
        with self.fleet.lock:
            self.fleet.calls.append((what[0], self.machine_id, *what[1:]))
        with open(self.log_path, "a") as log:
            log.write(f"==> {' '.join(what)}\n")

    def up(self, provider: str | None = None) -> None:
        self._record("up")
        if self.machine_id in self.fleet.failing:
            self.fleet.failing.discard(self.machine_id)
            raise subprocess.CalledProcessError(1, ["vagrant", "up"])
        while not self.fleet.boots_allowed.is_set() and not self.interrupted.is_set():
            time.sleep(0.01)
        if self.interrupted.is_set():
            raise ProviderError("vagrant up interrupted")
        self.fleet.libvirt.boot(self._domain())

    def hostname(self) -> str:
        return self.fleet.addresses.setdefault(self.machine_id,
                                               f"192.168.121.{10 + len(self.fleet.addresses)}")

    def ssh(self, command: str) -> None:
        self._record("ssh", command)

    def destroy(self) -> None:
        self._record("destroy")
        self.fleet.libvirt.remove(self._domain())

    def interrupt(self, grace_s: float = 30.0) -> None:
        self._record("interrupt")
        self.interrupted.set()


@dataclass
class FakeVagrantFleet:
    """What every fake Vagrant of one provider shares."""

    libvirt: FakeLibvirt
    calls: list[tuple[str, ...]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    addresses: dict[str, str] = field(default_factory=dict)
    boots_allowed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def factory(self, run: Path, env: dict[str, str], log_path: Path) -> FakeVagrant:
        return FakeVagrant(run, log_path, self)

    def drained_before_destroyed(self, machine_id: str) -> bool:
        mine = [call for call in self.calls if call[1] == machine_id]
        drains = [i for i, call in enumerate(mine)
                  if call[0] == "ssh" and "systemctl stop imgproc-worker" in call[2]]
        destroys = [i for i, call in enumerate(mine) if call[0] == "destroy"]
        return bool(drains and destroys) and drains[0] < destroys[0]

    @contextmanager
    def held(self) -> Iterator[bool]:
        self.boots_allowed.clear()
        try:
            yield True
        finally:
            self.boots_allowed.set()


def vagrant_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProviderCase:
    libvirt = FakeLibvirt()
    fleet = FakeVagrantFleet(libvirt)
    fleet.boots_allowed.set()
    wheels = tmp_path / "wheels"
    wheels.mkdir()

    def no_real_virsh(*args: str, **kwargs: Any) -> str:
        raise AssertionError(f"the contract's vagrant case ran the real virsh {args}")

    monkeypatch.setattr(libvirt_module, "virsh", no_real_virsh)
    monkeypatch.setattr(vagrant_module, "virsh", libvirt.virsh)
    monkeypatch.setattr(vagrant_module, "our_domains", libvirt.our_domains)
    monkeypatch.setattr(vagrant_module, "ensure_network", libvirt.ensure_network)
    monkeypatch.setattr(vagrant_module, "build_wheels", lambda source, target: wheels)
    no_binaries = tmp_path / "no-binaries"
    no_binaries.mkdir()
    monkeypatch.setenv("PATH", str(no_binaries))

    # What each VagrantProvider is constructed with, to check the mapping of the settings.
    constructed: dict[int, dict[str, Any]] = {}
    real_init = VagrantProvider.__init__
    signature = inspect.signature(real_init)

    def recording_init(self: VagrantProvider, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        constructed[id(self)] = dict(bound.arguments)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(VagrantProvider, "__init__", recording_init)

    settings = ProviderSettings(kind="vagrant", state_dir=tmp_path / "state",
                                drain_timeout_s=5.0, options={"max_booting": 2})
    provider = VagrantProvider.from_settings(settings, WORKER_SETTINGS, source_dir=ROOT,
                                             box=BoxInfo("fake-box"),
                                             vagrant_factory=fleet.factory)

    def cleanup() -> None:
        for machine_id in provider.alive():
            provider.stop(machine_id)
        provider.close()

    def made_with(p: VagrantProvider) -> dict[str, Any]:
        arguments = constructed[id(p)]
        names = ("state_dir", "settings", "drain_timeout_s", "up_timeout_s", "max_booting",
                 "memory_mb", "cpus")
        return {name: arguments[name] for name in names}

    return ProviderCase(
        kind="vagrant", provider=provider, worker_settings=WORKER_SETTINGS,
        options={"max_booting": 3, "memory_mb": 2048, "cpus": 2},
        expected_from=lambda s: {
            "state_dir": s.state_dir, "settings": WORKER_SETTINGS,
            "drain_timeout_s": s.drain_timeout_s, "up_timeout_s": s.boot_timeout_s,
            **s.options},
        made_with=made_with,
        drained=fleet.drained_before_destroyed,
        held_starts=fleet.held,
        fail_start_of=fleet.failing.add,
        cleanups=[cleanup],
    )


CASES: dict[str, Callable[[Path, pytest.MonkeyPatch], ProviderCase]] = {
    "memory": memory_case,
    "local": local_case,
    "vagrant": vagrant_case,
}


@pytest.fixture(params=list(CASES), ids=lambda kind: "vagrant-parts" if kind == "vagrant"
                else kind)
def case(request: pytest.FixtureRequest, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderCase]:
    made = CASES[request.param](tmp_path, monkeypatch)
    try:
        yield made
    finally:
        for cleanup in made.cleanups:
            cleanup()



@pytest.fixture
def contract_kinds() -> list[str]:
    """The kinds of provider that have a case here."""
    return list(CASES)
