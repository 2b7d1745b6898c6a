#!/usr/bin/env bash
# Makes this machine able to boot imgproc's worker VMs with Vagrant and libvirt:
# installs the packages when missing, starts virtlogd and libvirtd by hand when
# they are not running (there is no systemd here), gives /dev/kvm the group and
# mode libvirt expects (otherwise every domain definition stalls while libvirt
# re-probes the emulator), defines libvirt's storage pool `default` when it is
# missing (vagrant-libvirt would make it on its first `vagrant up`, but the box
# builder uploads the box's image into it before any VM has booted), and waits
# until `virsh list` answers. What it makes is recorded for scripts/reset-host.sh.
# Idempotent: on a ready machine it only checks, in well under a second.
#
#   scripts/ensure-vagrant.sh            # packages, daemons, permissions, storage pool
# (`imgproc box build` runs it, then builds imgproc's wheels and the box.)
set -euo pipefail
. "$(dirname "$0")/lib/host.sh"

PACKAGES=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
          debootstrap puppet e2fsprogs dnsmasq-base)
POOL=default
POOL_DIR=/var/lib/libvirt/images   # where vagrant-libvirt's own pool would be, and the box's kernels

log() { echo "[vagrant] $*" >&2; }

ensure_kvm_permissions() {
  [ -e /dev/kvm ] || return 0
  if ! getent group kvm >/dev/null; then
    as_root groupadd -r kvm
    remember group kvm
  fi
  local now
  now=$(stat -c %U:%G:%a /dev/kvm)
  if [ "${now#*:}" != "kvm:660" ]; then
    log "giving /dev/kvm group kvm, mode 0660"
    remember device /dev/kvm "$now"
    as_root chgrp kvm /dev/kvm
    as_root chmod 0660 /dev/kvm
  fi
}

running() { pgrep -x "$1" >/dev/null 2>&1; }

ensure_daemons() {
  as_root mkdir -p /run/libvirt /var/run/libvirt
  local daemon
  for daemon in virtlogd libvirtd; do
    if ! running "$daemon"; then
      log "starting $daemon"
      as_root "$daemon" -d
      remember daemon "$daemon"
    fi
  done
}

ensure_pool() {
  if ! virsh_system pool-info "$POOL" >/dev/null 2>&1; then
    log "defining libvirt's storage pool $POOL in $POOL_DIR"
    as_root mkdir -p "$POOL_DIR"
    virsh_system pool-define-as "$POOL" dir --target "$POOL_DIR" >/dev/null
    remember pool "$POOL"
  fi
  if ! grep -Eq '^State:[[:space:]]+running' <<<"$(virsh_system pool-info "$POOL")"; then
    virsh_system pool-start "$POOL" >/dev/null
  fi
}

apt_install "${PACKAGES[@]}"
ensure_kvm_permissions
ensure_daemons
wait_for libvirtd virsh_system list --all
ensure_pool
log "libvirt is up ($(virsh_system version --daemon 2>/dev/null | sed -n 's/^Running hypervisor: //p'))"
