"""A restarted deployer reconciles with what libvirt really holds: a VM of ours that no
record knows is destroyed, and a record whose VM is gone is marked failed.

The orphan is a real libvirt domain named as the provider names its VMs, defined with
virsh (never started: what a deployer killed between `vagrant up` and its record would
leave). The registry is the in-memory one; the deployer logic is the real one.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

from imgproc.adapters.memory.registry import MemoryMachineRegistry
from imgproc.adapters.providers.vagrant import VagrantProvider
from imgproc.adapters.providers.vagrant.libvirt import our_domains
from imgproc.core.deployer import Deployer
from imgproc.core.machines import Machine, MachineState

S = MachineState


class Clock:
    def now(self) -> float:
        return time.time()


def _define_domain(name: str, tmp_path: Path) -> None:
    xml = tmp_path / "domain.xml"
    xml.write_text(f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>"
                   "<os><type arch='x86_64'>hvm</type></os></domain>")
    subprocess.run(["virsh", "-c", "qemu:///system", "define", str(xml)], check=True,
                   capture_output=True, timeout=60)


def test_a_restarted_deployer_destroys_unrecorded_vms_and_fails_records_whose_vm_is_gone(tmp_path):
    provider = VagrantProvider(tmp_path / "state", {})
    orphan = f"worker-o{uuid.uuid4().hex[:6]}"
    _define_domain(provider.prefix + orphan, tmp_path)
    registry = MemoryMachineRegistry()
    gone = f"worker-g{uuid.uuid4().hex[:6]}"
    now = time.time()
    registry.create(Machine(gone, S.PREPARING, now, now))
    for state in (S.BOOTING, S.RUNNING):
        registry.transition(gone, state, now)
    try:
        assert orphan in provider.alive()

        orphans, _, failed = Deployer(registry, provider, Clock()).reconcile()
    finally:
        subprocess.run(["virsh", "-c", "qemu:///system", "undefine", provider.prefix + orphan],
                       capture_output=True, timeout=60, check=False)
        provider.close()
    assert orphans == [orphan]
    assert provider.prefix + orphan not in our_domains(all_states=True)
    assert failed == [gone]
    machine = registry.get(gone)
    assert machine.state is S.DESTROYED
    assert machine.reason == "vagrant machine disappeared while running"
