"""Whether the worker VMs can run on KVM here, or must run under QEMU's software emulation.

``/dev/kvm`` is not enough. On this machine kind it is served by ``kvm_pvm``, PVM
(pagetable-based virtual machines: KVM without hardware virtualization, for nested
guests), whose guests must run a kernel built for PVM: an ordinary kernel reaches its
decompressor in long mode and makes no visible progress there for minutes, and the CPU
PVM offers its guests lacks SSE3 to SSE4.2 and POPCNT, which the worker's numpy needs
(``docs/vagrant.md``). KVM is used only with hardware virtualization (``vmx`` or ``svm``)
and a CPU with x86-64-v2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

X86_64_V2 = {"sse4_2", "popcnt"}


@dataclass(frozen=True)
class Acceleration:
    """The libvirt domain type for the VMs (``kvm`` or ``qemu``) and why."""

    driver: str
    reason: str


def cpu_flags(cpuinfo: str) -> set[str]:
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def choose(cpuinfo: str, kvm_device: bool, kernel_modules: set[str]) -> Acceleration:
    """KVM when this host can run ordinary guests on it, software emulation otherwise."""
    flags = cpu_flags(cpuinfo)
    if not kvm_device:
        return Acceleration("qemu", "no /dev/kvm")
    if "kvm_pvm" in kernel_modules:
        return Acceleration("qemu", "/dev/kvm is PVM's (kvm_pvm), which runs only guest kernels "
                                    "built for PVM")
    if not flags & {"vmx", "svm"}:
        return Acceleration("qemu", "the CPU offers no hardware virtualization (vmx or svm)")
    if not flags >= X86_64_V2:
        return Acceleration("qemu", "the CPU lacks x86-64-v2 (SSE4.2, POPCNT), which the "
                                    "worker's numpy needs")
    return Acceleration("kvm", "hardware virtualization and /dev/kvm")


def detect(proc: Path = Path("/proc"), dev_kvm: Path = Path("/dev/kvm"),
           modules: Path = Path("/sys/module")) -> Acceleration:
    """:func:`choose` for this host."""
    try:
        cpuinfo = (proc / "cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    loaded = {p.name for p in modules.glob("kvm*")} if modules.is_dir() else set()
    return choose(cpuinfo, dev_kvm.exists(), loaded)
