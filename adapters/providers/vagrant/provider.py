"""The Vagrant provider: a "machine" is a VM booted by Vagrant (vagrant-libvirt here).

Same port as the local provider (``name``, ``start``, ``stop``, ``alive``):

* ``start(machine_id)`` renders ``state_dir/vagrant/<machine id>`` (the worker's
  Vagrantfile, ``machine.json``, ``imgproc.env``), runs ``vagrant up`` with a timeout
  (at most ``max_booting`` at once) and returns the guest's address. The box is baked
  (imgproc and the worker's Puppet code, rebuilt when either changes); at boot Vagrant
  runs only ``imgproc-worker-setup``, which writes the machine's settings and starts
  the worker, which registers itself and moves its machine to ``running``.
* ``stop(machine_id)`` drains (``systemctl stop imgproc-worker`` in the guest:
  SIGTERM, the worker finishes its job; systemd kills it after the drain
  timeout), then ``vagrant destroy -f``, falling back to virsh when Vagrant
  cannot, and removes the run directory. Stopping a machine that is still
  booting interrupts its ``vagrant up``.
* ``alive()`` is the set of machines whose domain is running in libvirt (one
  ``virsh list``: the deployer asks every second) plus those being started.

Any failure raises :class:`ProviderError` with the reason (the tail of Vagrant's output);
the deployer then marks the machine failed and stops it, which destroys the VM.

Guests reach the host's services at its address on the VMs' network, as their fleet's
user, through this provider's relays where needed (``guest.py``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgproc.adapters.providers.environment import environment_file
from imgproc.adapters.providers.ids import checked_id
from imgproc.adapters.providers.settings import ProviderSettings
from imgproc.adapters.providers.vagrant.acceleration import detect as detect_acceleration
from imgproc.adapters.providers.vagrant.box import (
    BoxInfo,
    build_box,
    ensure_host,
    source_root,
    wheels_dir,
)
from imgproc.adapters.providers.vagrant.command import (
    CommandTimeout,
    log_errors,
    make_vagrant,
    setup_timings,
    stop_leftover_command,
)
from imgproc.adapters.providers.vagrant.guest import FLEET_DIR, FleetCredentials, guest_settings
from imgproc.adapters.providers.vagrant.libvirt import (
    LIBVIRT_URI,
    domain_prefix,
    ensure_network,
    our_domains,
    virsh,
)
from imgproc.adapters.providers.vagrant.options import VagrantOptions
from imgproc.adapters.providers.vagrant.relay import TcpRelay
from imgproc.adapters.providers.vagrant.wheels import build_wheels
from imgproc.adapters.secrets import write_private
from imgproc.adapters.system_clock import SystemClock
from imgproc.core.clock import Clock
from imgproc.core.errors import ProviderError

log = logging.getLogger(__name__)

MACHINE_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass
class _Machine:
    lock: threading.Lock
    vagrant: Any = None
    cancelled: bool = False


class VagrantProvider:
    """Worker VMs through Vagrant, behind the same port as the local provider."""

    name = "vagrant"
    Options = VagrantOptions

    def __init__(self, state_dir: Path, settings: Mapping[str, Any], *,
                 source_dir: Path | None = None, drain_timeout_s: float = 60.0,
                 up_timeout_s: float = 300.0, destroy_timeout_s: float = 120.0,
                 max_booting: int = 2, memory_mb: int = 1024, cpus: int = 1,
                 driver: str = "qemu", cpu_model: str | None = "Nehalem",
                 network_name: str = "vagrant-libvirt", network_address: str = "192.168.121.0/24",
                 box: BoxInfo | None = None,
                 fleet_credentials_dir: Path = FLEET_DIR,
                 box_builder: Callable[[Path], BoxInfo] | None = None,
                 vagrant_factory: Callable[[Path, dict[str, str], Path], Any] = make_vagrant,
                 clock: Clock | None = None) -> None:
        self.root = Path(state_dir) / "vagrant"
        self.prefix = domain_prefix(self.root)
        self.settings = dict(settings)
        self.source_dir = Path(source_dir) if source_dir else source_root()
        self.drain_timeout_s = drain_timeout_s
        self.up_timeout_s = up_timeout_s
        self.destroy_timeout_s = destroy_timeout_s
        self.memory_mb = memory_mb
        self.cpus = cpus
        self.driver = driver
        self.cpu_model = cpu_model
        self.network_name = network_name
        self.network_address = network_address
        self._box = box
        self.fleet_credentials_dir = Path(fleet_credentials_dir)
        self._box_builder = box_builder or (lambda wheels: build_box(wheels, self.source_dir))
        self._vagrant = vagrant_factory
        self._booting = threading.BoundedSemaphore(max_booting)
        self._lock = threading.Lock()
        self._prepare_lock = threading.Lock()
        self._prepared: tuple[BoxInfo, str] | None = None  # box, env file text
        self._relays: list[TcpRelay] = []
        self._network_lock = threading.Lock()
        self._env_text: str | None = None
        self._created_network = False
        self._machines: dict[str, _Machine] = {}
        self._starting: set[str] = set()
        self._last_alive: set[str] = set()
        self.timings: dict[str, dict[str, float]] = {}
        self.clock = clock or SystemClock()
        self.root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings: ProviderSettings, worker_settings: Mapping[str, Any],
                      **overrides: Any) -> VagrantProvider:
        """From the provider's settings; ``worker_settings`` go to the guests' workers."""
        options = VagrantOptions.model_validate(settings.options)
        arguments: dict[str, Any] = {
            "drain_timeout_s": settings.drain_timeout_s,
            "up_timeout_s": settings.boot_timeout_s,
            **options.model_dump(),
        }
        if options.driver == "auto":
            chosen = detect_acceleration()
            log.info("VMs on %s: %s", chosen.driver, chosen.reason)
            arguments["driver"] = chosen.driver
        arguments.update(overrides)
        return cls(settings.state_dir, worker_settings, **arguments)

    # -- preparation (once per provider) ---------------------------------------------------

    def _prepare(self) -> tuple[BoxInfo, str]:
        """The box for the current sources (built when they changed: it bakes imgproc's
        wheels and the worker's Puppet code in) and the guests' settings; once per provider."""
        with self._prepare_lock:
            if self._prepared is None:
                if self._box is None:  # a given box means a host set up by the caller
                    ensure_host(self.source_dir)
                    box = self._box_builder(
                        build_wheels(self.source_dir, wheels_dir(self.root.parent)))
                else:
                    box = self._box
                self._prepared = (box, self._guest_env())
            return self._prepared

    def _guest_env(self) -> str:
        """The VMs' network up, the host's services reachable on it (relays), and the
        guests' settings file; once per provider."""
        with self._network_lock:
            if self._env_text is None:
                gateway, created = ensure_network(self.network_name, self.network_address)
                self._created_network = self._created_network or created
                fleet = FleetCredentials.from_dir(self.fleet_credentials_dir)
                guest = guest_settings(self.settings, gateway, self._relays, fleet)
                self._env_text = environment_file(
                    guest, "imgproc worker settings, written by the deployer's Vagrant provider")
            return self._env_text

    def _vagrant_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IMGPROC_", "VAGRANT_CWD"))}
        env.update({"VAGRANT_DEFAULT_PROVIDER": "libvirt", "VAGRANT_CHECKPOINT_DISABLE": "1",
                    "VAGRANT_NO_COLOR": "1", "LIBVIRT_DEFAULT_URI": LIBVIRT_URI})
        return env

    def run_dir(self, machine_id: str) -> Path:
        return self.root / machine_id

    def render(self, machine_id: str, box: BoxInfo, env_text: str) -> Path:
        """The machine's run directory: Vagrantfile, machine.json and imgproc.env (the guest's
        settings, which its provisioning step carries: everything else is in the box)."""
        run = self.run_dir(machine_id)
        run.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.source_dir / "vagrant" / "worker" / "Vagrantfile", run / "Vagrantfile")
        machine = {
            "fqdn": machine_id, "type": "worker", "box": box.box, "domain_prefix": self.prefix,
            "memory_mb": self.memory_mb, "cpus": self.cpus,
            "boot_timeout_s": int(self.up_timeout_s),
            "drain_timeout_s": max(1, math.ceil(self.drain_timeout_s)),  # 0 is "never" to systemd
            "libvirt": {"driver": self.driver, "cpu_model": self.cpu_model, "kernel": box.kernel,
                        "initrd": box.initrd, "cmd_line": self._cmd_line(box),
                        "network_name": self.network_name, "network_address": self.network_address},
        }
        (run / "machine.json").write_text(json.dumps(machine, indent=2) + "\n")
        write_private(run / "imgproc.env", env_text)
        return run

    def _cmd_line(self, box: BoxInfo) -> str | None:
        """The box's kernel command line, with mitigations=off under software emulation only:
        there they cost every system call many emulated instructions (docs/vagrant.md)."""
        if box.cmd_line is None or self.driver != "qemu":
            return box.cmd_line
        return f"{box.cmd_line} mitigations=off"

    # -- the port --------------------------------------------------------------------------

    def _machine(self, machine_id: str) -> _Machine:
        with self._lock:
            return self._machines.setdefault(machine_id, _Machine(threading.Lock()))

    def start(self, machine_id: str) -> str:
        if not MACHINE_ID.match(machine_id):  # stricter than a machine id: a host name
            raise ProviderError(f"machine id {machine_id!r} cannot be a host name")
        machine = self._machine(machine_id)
        with self._lock:
            self._starting.add(machine_id)
        try:
            return self._start(machine_id, machine)
        finally:
            with self._lock:
                self._starting.discard(machine_id)

    def _start(self, machine_id: str, machine: _Machine) -> str:
        asked = self.clock.now()
        box, env_text = self._prepare()
        self._wait_for_slot(machine)
        try:
            with machine.lock:  # a stop waits for this; it interrupts `vagrant up` first
                if machine.cancelled:
                    raise ProviderError("stopped before it booted")
                run = self.render(machine_id, box, env_text)
                began = self.clock.now()
                address = self._up(run, machine)
        finally:
            self._booting.release()
        self.timings[machine_id] = {"waited_s": began - asked, "up_s": self.clock.now() - began,
                                    **setup_timings(run)}
        log.info("machine %s up at %s in %.0f s", machine_id, address, self.clock.now() - began)
        return address

    def _wait_for_slot(self, machine: _Machine) -> None:
        """One of the ``max_booting`` boot slots, given up if the machine is stopped meanwhile."""
        while not self._booting.acquire(timeout=0.5):
            if machine.cancelled:
                raise ProviderError("stopped before it booted")

    def _up(self, run: Path, machine: _Machine) -> str:
        v = self._vagrant(run, self._vagrant_env(), run / "vagrant.log")
        v.timeout_s = self.up_timeout_s
        machine.vagrant = v
        try:
            if machine.cancelled:  # stopped between the check above and now
                v.interrupt()
            v.up(provider="libvirt")
            v.timeout_s = 60
            address = v.hostname()
        except subprocess.CalledProcessError as exc:
            raise ProviderError(f"vagrant up failed ({exc.returncode}): "
                                f"{log_errors(run)}") from exc
        except CommandTimeout as exc:
            raise ProviderError(f"{exc}: {log_errors(run)}") from exc
        finally:
            machine.vagrant = None
        if not address:
            raise ProviderError("vagrant up succeeded but the guest has no address")
        return address

    def interrupt_starts(self) -> None:
        """Cut short every start under way (the deployer is stopping): each fails, and the
        deployer then destroys what it left."""
        with self._lock:
            machines = list(self._machines.values())
        for machine in machines:
            machine.cancelled = True
            booting = machine.vagrant
            if booting is not None:
                booting.interrupt()

    def stop(self, machine_id: str) -> None:
        checked_id(machine_id)
        machine = self._machine(machine_id)
        machine.cancelled = True
        booting = machine.vagrant
        if booting is not None:
            log.info("machine %s: interrupting its vagrant up", machine_id)
            booting.interrupt()
        with machine.lock:
            try:
                self._stop(machine_id)
            finally:
                with self._lock:
                    self._machines.pop(machine_id, None)

    def _stop(self, machine_id: str) -> None:
        run = self.run_dir(machine_id)
        domain = self.prefix + machine_id
        began = self.clock.now()
        stop_leftover_command(run)
        if not run.is_dir() and domain not in our_domains(all_states=True, prefix=self.prefix):
            return  # nothing of it exists: never started here, or already stopped
        if (run / "Vagrantfile").is_file() and (run / "machine.json").is_file():
            v = self._vagrant(run, self._vagrant_env(), run / "vagrant.log")
            if domain in our_domains(prefix=self.prefix):
                v.timeout_s = self.drain_timeout_s + 30
                try:
                    v.ssh(command="sudo systemctl stop imgproc-worker")
                except (ProviderError, subprocess.CalledProcessError) as exc:
                    log.warning("machine %s: could not drain its worker: %s", machine_id, exc)
            drained = self.clock.now()
            v.timeout_s = self.destroy_timeout_s
            try:
                v.destroy()
            except (ProviderError, subprocess.CalledProcessError) as exc:
                log.warning("machine %s: vagrant destroy failed (%s): %s", machine_id, exc,
                            log_errors(run))
        else:
            drained = self.clock.now()
        if domain in our_domains(all_states=True, prefix=self.prefix):
            log.warning("machine %s: removing domain %s with virsh", machine_id, domain)
            virsh("destroy", domain, check=False)
            virsh("undefine", domain, "--remove-all-storage", "--nvram", check=False)
            if domain in our_domains(all_states=True, prefix=self.prefix):
                raise ProviderError(f"domain {domain} is still defined after destroy")
        self._keep_log(machine_id)
        shutil.rmtree(run, ignore_errors=True)
        times = self.timings.setdefault(machine_id, {})
        times.update(drain_s=drained - began, destroy_s=self.clock.now() - drained)
        self._append_timings(machine_id, times)
        log.info("machine %s destroyed (drain %.0f s, destroy %.0f s)", machine_id, drained - began,
                 self.clock.now() - drained)

    def _append_timings(self, machine_id: str, times: dict[str, float]) -> None:
        """One JSON line per destroyed machine in state_dir/vagrant/timings.jsonl (the figures)."""
        line = {"machine_id": machine_id, "at": self.clock.now(),
                **{k: round(v, 2) for k, v in times.items()}}
        with open(self.root / "timings.jsonl", "a") as out:
            out.write(json.dumps(line) + "\n")

    def _keep_log(self, machine_id: str) -> None:
        """Vagrant's output for a machine outlives its run directory:
        state_dir/vagrant/logs/ID.log."""
        source = self.run_dir(machine_id) / "vagrant.log"
        if source.is_file():
            (self.root / "logs").mkdir(exist_ok=True)
            shutil.copyfile(source, self.root / "logs" / f"{machine_id}.log")

    def alive(self) -> set[str]:
        """Machines whose VM runs, those being started, and VMs of ours that exist with
        no run directory (left by an earlier deployer: reconciliation stops them)."""
        n = len(self.prefix)
        try:
            running = {name[n:] for name in our_domains(prefix=self.prefix)}
            if running:
                self._keep_guests_connected()
            defined = {name[n:] for name in our_domains(all_states=True, prefix=self.prefix)}
            running |= {i for i in defined - running if not self.run_dir(i).is_dir()}
        except ProviderError as exc:
            log.warning("cannot list VMs, keeping the last answer: %s", exc)
            running = self._last_alive
        self._last_alive = running
        with self._lock:
            return running | self._starting

    def _keep_guests_connected(self) -> None:
        """VMs started by an earlier deployer reach the host's services through relays that
        died with it: a deployer that finds VMs running sets them up again at once."""
        if self._env_text is None:
            try:
                self._guest_env()
            except ProviderError as exc:
                log.warning("running VMs cannot reach the host's services: %s", exc)

    def close(self) -> None:
        """Stop the relays; take the VMs' network down if this provider made it and no VM is
        left."""
        for relay in self._relays:
            relay.close()
        self._relays.clear()
        self._prepared = None
        self._env_text = None
        if self._created_network:
            try:
                if not our_domains(all_states=True):  # anyone's: the network is shared
                    virsh("net-destroy", self.network_name, check=False)
            except ProviderError as exc:
                log.warning("could not remove network %s: %s", self.network_name, exc)

