"""The Vagrant provider's own options (``provider.options``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from imgproc.adapters.providers.vagrant.guest import FLEET_DIR


class VagrantOptions(BaseModel):
    """The Vagrant provider's own options (``provider.options``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_booting: int = Field(default=2, ge=1, description="at most this many VMs booting at once")
    memory_mb: int = Field(default=1024, ge=256, description="memory of each VM, MiB")
    cpus: int = Field(default=1, ge=1, description="virtual CPUs of each VM")
    driver: Literal["auto", "kvm", "qemu"] = Field(
        default="auto", description="libvirt domain type: kvm, qemu (software emulation), or "
                                    "auto: kvm where this host can run ordinary guests on it")
    fleet_credentials_dir: Path = Field(
        default=FLEET_DIR,
        description="the VMs' broker password and S3 secret (scripts/ensure-services.sh)")
