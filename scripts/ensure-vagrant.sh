#!/usr/bin/env bash
# Makes this machine able to boot imgproc's worker VMs with Vagrant and libvirt:
# installs the packages when missing, starts virtlogd and libvirtd by hand when
# they are not running (there is no systemd here), gives /dev/kvm the group and
# mode libvirt expects (otherwise every domain definition stalls while libvirt
# re-probes the emulator), and waits until `virsh list` answers.
# Idempotent: on a ready machine it only checks, in well under a second.
#
#   scripts/ensure-vagrant.sh            # packages and daemons
#   scripts/ensure-vagrant.sh --box      # also build and register the box (cached)
set -euo pipefail

WAIT_S=${IMGPROC_SERVICE_WAIT_S:-90}
APT_UPDATED=""
PACKAGES=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
          debootstrap puppet e2fsprogs dnsmasq-base)

log() { echo "[vagrant] $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
  done
}

ensure_packages() {
  local missing
  missing=$(missing_packages)
  [ -z "$missing" ] && return 0
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -q >/dev/null
    APT_UPDATED=1
  fi
  log "installing" $missing
  # No daemon may be started by the packages' scripts: there is no init system to own them.
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends $missing >/dev/null
}

ensure_kvm_permissions() {
  [ -e /dev/kvm ] || return 0
  getent group kvm >/dev/null || as_root groupadd -r kvm
  if [ "$(stat -c %G:%a /dev/kvm)" != "kvm:660" ]; then
    log "giving /dev/kvm group kvm, mode 0660"
    as_root chgrp kvm /dev/kvm
    as_root chmod 0660 /dev/kvm
  fi
}

running() { pgrep -x "$1" >/dev/null 2>&1; }

ensure_daemons() {
  as_root mkdir -p /run/libvirt /var/run/libvirt
  if ! running virtlogd; then
    log "starting virtlogd"
    as_root virtlogd -d
  fi
  if ! running libvirtd; then
    log "starting libvirtd"
    as_root libvirtd -d
  fi
}

virsh_ok() { timeout 10 virsh -c qemu:///system list --all >/dev/null 2>&1; }

wait_for_libvirt() {
  local deadline=$((SECONDS + WAIT_S))
  until virsh_ok; do
    if [ $SECONDS -ge $deadline ]; then
      log "libvirtd did not answer within ${WAIT_S}s"; return 1
    fi
    sleep 1
  done
}

ensure_packages
ensure_kvm_permissions
ensure_daemons
wait_for_libvirt
log "libvirt is up ($(virsh -c qemu:///system version --daemon 2>/dev/null | sed -n 's/^Running hypervisor: //p'))"

if [ "${1:-}" = "--box" ]; then
  exec "$(dirname "$0")/build-box.sh"
fi
