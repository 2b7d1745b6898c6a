"""Parts of the Vagrant provider that decide or read, with no VM: KVM or software
emulation for this host, and the guest's setup timings in a machine's Vagrant log."""

from __future__ import annotations

import pytest

from imgproc.adapters.providers.settings import ProviderSettings
from imgproc.adapters.providers.vagrant import VagrantProvider, acceleration
from imgproc.adapters.providers.vagrant import provider as vagrant_provider_module
from imgproc.adapters.providers.vagrant.acceleration import choose as choose_acceleration
from imgproc.adapters.providers.vagrant.acceleration import detect as detect_acceleration
from imgproc.adapters.providers.vagrant.command import setup_timings

INTEL = "processor\t: 0\nflags\t\t: fpu sse4_2 popcnt vmx lm\n"
PVM_HOST = "processor\t: 0\nflags\t\t: fpu sse4_2 popcnt hypervisor lm\n"


@pytest.mark.parametrize(("cpuinfo", "device", "modules", "driver", "why"), [
    (INTEL, True, {"kvm", "kvm_intel"}, "kvm", "hardware virtualization"),
    (INTEL.replace("vmx", "svm"), True, {"kvm", "kvm_amd"}, "kvm", "hardware virtualization"),
    (INTEL, False, set(), "qemu", "no /dev/kvm"),
    (PVM_HOST, True, {"kvm", "kvm_pvm"}, "qemu", "PVM"),
    (PVM_HOST, True, {"kvm"}, "qemu", "no hardware virtualization"),
    (INTEL.replace("sse4_2 ", ""), True, {"kvm", "kvm_intel"}, "qemu", "x86-64-v2"),
])
def test_kvm_only_where_ordinary_guests_run_on_it(cpuinfo, device, modules, driver, why):
    chosen = choose_acceleration(cpuinfo, device, modules)
    assert chosen.driver == driver and why in chosen.reason


def test_this_hosts_acceleration_is_read_from_proc_dev_and_sys(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cpuinfo").write_text(PVM_HOST)
    (tmp_path / "module" / "kvm_pvm").mkdir(parents=True)
    (tmp_path / "kvm").touch()
    chosen = detect_acceleration(tmp_path / "proc", tmp_path / "kvm", tmp_path / "module")
    assert chosen.driver == "qemu" and "PVM" in chosen.reason


def test_auto_driver_is_resolved_when_the_provider_is_made(tmp_path, monkeypatch):
    monkeypatch.setattr(vagrant_provider_module, "detect_acceleration",
                        lambda: acceleration.Acceleration("kvm", "test"))
    settings = ProviderSettings(kind="vagrant", state_dir=tmp_path)
    assert VagrantProvider.from_settings(settings, {}).driver == "kvm"
    settings = ProviderSettings(kind="vagrant", state_dir=tmp_path, options={"driver": "qemu"})
    assert VagrantProvider.from_settings(settings, {}).driver == "qemu"


def test_the_guests_setup_timings_are_read_from_the_vagrant_log(tmp_path):
    (tmp_path / "vagrant.log").write_text(
        "==> worker-7: Running provisioner: imgproc-worker (shell)...\n"
        "    worker-7: imgproc-worker-setup: worker-7 set up from 36.52 s to 41.02 s of uptime;"
        " worker started at 1796325700.250000000\n")
    assert setup_timings(tmp_path) == pytest.approx(
        {"guest_boot_s": 36.52, "guest_setup_s": 4.5, "worker_started_at": 1796325700.25})
    (tmp_path / "vagrant.log").write_text("==> worker-7: Machine booted and ready!\n")
    assert setup_timings(tmp_path) == {}
