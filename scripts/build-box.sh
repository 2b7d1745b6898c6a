#!/usr/bin/env bash
# Builds imgproc's worker box for vagrant-libvirt and registers it, cached by a
# content hash: a second run with the same inputs only checks and prints.
#
# The box is baked (a golden image, as Packer with masterless Puppet makes one): the
# worker's Puppet code (puppet/manifests/worker.pp) is applied once into the image, at
# build time and natively, with imgproc and its dependencies installed from the wheels
# and compiled to bytecode. A booted copy only needs its own part, written by
# imgproc-worker-setup (vagrant/worker/Vagrantfile). The cache key covers this script,
# its package list and mirror, the Puppet code, and the wheels (their names and
# imgproc's source hash), so a change to any of them builds a new box, and nothing else
# does.
#
# The box is a Debian bookworm root file system made with debootstrap from this
# machine's own apt mirror, with Python 3 and venv, the Puppet agent, sshd with
# Vagrant's insecure key for user vagrant (passwordless sudo), systemd-networkd
# doing DHCP with ClientIdentifier=mac and an empty /etc/machine-id (so clones
# never collide on leases). GRUB cannot be installed into the image here, so the
# box boots by direct kernel boot: the guest's kernel and initrd are copied out
# next to libvirt's images, readable by its QEMU user.
#
# Prints one JSON line on stdout: {"box", "kernel", "initrd", "cmd_line", "hash"};
# the same is kept in $IMGPROC_BOX_DIR/box.json.
#
#   scripts/build-box.sh --wheels DIR          # build if needed, print the box's description
#                                              # (DIR: imgproc's wheel and its dependencies',
#                                              # as `imgproc box build` makes them)
#   scripts/build-box.sh --wheels DIR --check  # exit 0 if that box is built and registered
#   scripts/build-box.sh --wheels DIR --name   # print the name of that box (its cache key)
#   scripts/build-box.sh --remove              # unregister every imgproc box, delete its files
set -euo pipefail

SUITE=bookworm
BOX_PREFIX=imgproc-bookworm
BOX_DIR=${IMGPROC_BOX_DIR:-/var/lib/imgproc/box}
IMAGES_DIR=${IMGPROC_BOX_IMAGES_DIR:-/var/lib/libvirt/images}
IMAGE_SIZE=${IMGPROC_BOX_IMAGE_SIZE:-4G}
POOL=default
# What the guest needs: boot, network, ssh for Vagrant, Puppet, and Python for imgproc.
PACKAGES=(linux-image-amd64 systemd-sysv udev dbus kmod iproute2 procps netbase
          openssh-server sudo rsync ca-certificates
          python3 python3-venv puppet)
# (The provider adds mitigations=off under software emulation only: docs/vagrant.md.)
CMD_LINE="root=/dev/vda rw console=ttyS0 net.ifnames=1 quiet"
DEBOOTSTRAP_ARGS=(--variant=minbase)

log() { echo "[box] $*" >&2; }
die() { log "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, mkfs and libvirt need it)"

vagrant_key() {
  local key
  for key in /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub \
             /usr/share/vagrant/keys/vagrant.pub /opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub; do
    [ -f "$key" ] && { echo "$key"; return; }
  done
  die "Vagrant's insecure public key not found (is the vagrant package installed?)"
}

apt_mirror() {
  apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 2>/dev/null \
    | awk -v s="$SUITE" '$2 == s && $3 == "deb" {print $1; exit}'
}

mirror() {  # this machine's own Debian mirror for $SUITE, from its apt configuration
  local uri
  uri=$(apt_mirror)
  if [ -z "$uri" ]; then  # no package lists yet: they name the sources
    apt-get update -q >/dev/null 2>&1 || true
    uri=$(apt_mirror)
  fi
  [ -n "$uri" ] || die "no apt source for $SUITE in this machine's apt configuration"
  echo "$uri"
}

KEY=$(vagrant_key)
MIRROR=$(mirror)
BASE_HASH=$(echo "$SUITE" "${PACKAGES[*]}" "$MIRROR" "${DEBOOTSTRAP_ARGS[*]}" | sha256sum | cut -c1-12)
PUPPET_DIR=$(cd "$(dirname "$0")/../puppet" && pwd)
puppet_hash() {  # every file of the Puppet tree, by path and content
  (cd "$PUPPET_DIR" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum
}
HASH=$( { cat "$0"; echo "${PACKAGES[*]}" "$MIRROR" "$CMD_LINE" "$IMAGE_SIZE"; cat "$KEY"; puppet_hash; } \
        | sha256sum | cut -c1-12)
BOX="$BOX_PREFIX-$HASH"
WORK="$BOX_DIR/$HASH"
KERNEL="$IMAGES_DIR/$BOX-vmlinuz"
INITRD="$IMAGES_DIR/$BOX-initrd.img"

describe() {
  printf '{"box": "%s", "kernel": "%s", "initrd": "%s", "cmd_line": "%s", "hash": "%s"}\n' \
    "$BOX" "$KERNEL" "$INITRD" "$CMD_LINE" "$HASH"
}

box_store() { echo "${VAGRANT_HOME:-$HOME/.vagrant.d}/boxes/$BOX/0/libvirt"; }

registered() {  # looks at Vagrant's box store directly: `vagrant box list` costs a second
  [ -f "$(box_store)/metadata.json" ] && [ -r "$KERNEL" ] && [ -r "$INITRD" ]
}

volume_name() {  # the name vagrant-libvirt gives the box's image in the pool (box version 0)
  echo "${BOX}_vagrant_box_image_0_$(stat -c %Y "$(box_store)/box.img")_box.img"
}

volume_ready() {  # uploaded completely (the marker is written after the upload)
  [ "$(cat "$BOX_DIR/volume.ok" 2>/dev/null)" = "$(volume_name)" ] \
    && virsh -c qemu:///system vol-info --pool "$POOL" "$(volume_name)" >/dev/null 2>&1
}

# vagrant-libvirt uploads a box's image into the pool on the first `vagrant up`, under a
# lock that only holds within one Vagrant process: two machines started at once both see
# the volume, and the second clones it half-written (its guest finds no file system).
# Uploading it here, once, removes that race and a minute from the first boot.
upload_volume() {
  local name image
  name=$(volume_name)
  image="$(box_store)/box.img"
  rm -f "$BOX_DIR/volume.ok"
  virsh -c qemu:///system pool-refresh "$POOL" >/dev/null
  virsh -c qemu:///system vol-delete --pool "$POOL" "$name" >/dev/null 2>&1 || true
  log "uploading the box's image into libvirt's pool $POOL as $name"
  virsh -c qemu:///system vol-create-as "$POOL" "$name" "$(stat -c %s "$image")" --format qcow2 >/dev/null
  virsh -c qemu:///system vol-upload --pool "$POOL" "$name" "$image"
  echo "$name" >"$BOX_DIR/volume.ok"
}

remove_box() {  # name: unregister it, delete its kernel, initrd and its volume in libvirt's pool
  local name=$1 vol
  vagrant box remove --force --all "$name" >/dev/null 2>&1 || true
  rm -f "$IMAGES_DIR/$name-vmlinuz" "$IMAGES_DIR/$name-initrd.img"
  virsh -c qemu:///system pool-refresh "$POOL" >/dev/null 2>&1 || true
  for vol in $(virsh -c qemu:///system vol-list "$POOL" 2>/dev/null | awk -v n="${name}_vagrant_box_image" 'index($1, n) == 1 {print $1}'); do
    virsh -c qemu:///system vol-delete --pool "$POOL" "$vol" >/dev/null 2>&1 || true
  done
}

other_boxes() {
  vagrant box list --machine-readable 2>/dev/null | awk -F, -v p="$BOX_PREFIX-" '$3 == "box-name" && index($4, p) == 1 {print $4}' \
    | grep -vx "$BOX" || true
}

WHEELS=""
if [ "${1:-}" = "--wheels" ]; then
  WHEELS=$(readlink -f "${2:?--wheels needs a directory}")
  shift 2
  [ -d "$WHEELS" ] || die "no wheel directory $WHEELS"
  compgen -G "$WHEELS/imgproc-*.whl" >/dev/null || die "no imgproc wheel in $WHEELS"
fi
wheels_key() {  # the wheels' names, and what imgproc's own was built from
  find "$WHEELS" -maxdepth 1 -name '*.whl' -printf '%f\n' | LC_ALL=C sort
  if [ -f "$WHEELS/.source-hash" ]; then  # written by imgproc's wheel builder
    cat "$WHEELS/.source-hash"
  else  # wheels made some other way: their contents
    find "$WHEELS" -maxdepth 1 -name 'imgproc-*.whl' -exec sha256sum {} +
  fi
}
if [ -n "$WHEELS" ]; then
  BOX="$BOX-$(wheels_key | sha256sum | cut -c1-8)"
  KERNEL="$IMAGES_DIR/$BOX-vmlinuz"
  INITRD="$IMAGES_DIR/$BOX-initrd.img"
  WORK="$BOX_DIR/${BOX#"$BOX_PREFIX"-}"
fi

vms_exist() {  # any VM of ours, running or not: its disk may be backed by an older box
  grep -q '^imgproc_' <<<"$(virsh -c qemu:///system list --all --name 2>/dev/null)"
}

# Puppet in the image's root: /proc, /sys and /dev for Facter and the package tools; the
# wheels and the Puppet tree copied in and removed afterwards.
mount_for_chroot() {
  local dir
  for dir in proc sys dev; do mount --bind "/$dir" "$1/$dir"; done
}
unmount_chroot() {  # and make sure: mkfs would copy whatever is still mounted into the image
  local dir
  for dir in dev sys proc; do umount -l "$1/$dir" 2>/dev/null || true; done
  if awk -v d="$1/" 'index($2, d) == 1 {found = 1} END {exit !found}' /proc/mounts; then
    die "still mounted under $1 (see /proc/mounts): unmount it by hand"
  fi
}
if [ "${1:-}" = "--name" ]; then
  [ -n "$WHEELS" ] || die "--name needs --wheels DIR"
  echo "$BOX"; exit 0
fi
if [ "${1:-}" != "--check" ]; then  # one build (or removal) at a time on this host
  mkdir -p "$(dirname "$BOX_DIR")"
  exec 9>"$BOX_DIR.lock"
  flock 9
fi

case "${1:-}" in
  --check) [ -n "$WHEELS" ] || die "--check needs --wheels DIR"
           registered && volume_ready; exit ;;
  --remove)
    vms_exist && die "VMs of ours exist (virsh list --all): destroy them before removing their box"
    for name in $(other_boxes) "$BOX"; do remove_box "$name"; done
    for root in "$BOX_DIR"/*/rootfs; do unmount_chroot "$root"; done
    rm -rf --one-file-system "$BOX_DIR"; exit 0 ;;
  "") [ -n "$WHEELS" ] || die "--wheels DIR is needed: the box bakes imgproc in (imgproc box build)" ;;
  *) die "unknown option $1" ;;
esac

virsh -c qemu:///system pool-info "$POOL" >/dev/null 2>&1 \
  || die "libvirt has no storage pool $POOL: scripts/ensure-vagrant.sh defines it"

if registered; then
  volume_ready || upload_volume
  describe | tee "$BOX_DIR/box.json"
  exit 0
fi

puppet_apply() {  # root: puppet apply of the worker's manifest, --detailed-exitcodes' status
  local status=0
  # A clean environment: nothing of the caller's (PIP_*, PYTHONPATH, FACTER_*) may shape
  # the image, which the cache key would not show.
  chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    FACTER_imgproc_wheels_dir=/tmp/imgproc-wheels puppet apply --detailed-exitcodes --color=false \
    --modulepath=/tmp/imgproc-puppet/modules /tmp/imgproc-puppet/manifests/worker.pp >>"$WORK/puppet.log" 2>&1 || status=$?
  echo "$status"
}
bake() {  # root: imgproc and the worker's configuration, applied by Puppet, then bytecode
  local root=$1 status
  log "baking the worker in: puppet apply of manifests/worker.pp"
  mkdir -p "$root/tmp/imgproc-wheels"
  cp "$WHEELS"/*.whl "$root/tmp/imgproc-wheels/"
  cp -r "$PUPPET_DIR" "$root/tmp/imgproc-puppet"
  trap 'unmount_chroot "$ROOT"' EXIT
  mount_for_chroot "$root"
  status=$(puppet_apply "$root")
  [ "$status" = 0 ] || [ "$status" = 2 ] \
    || { tail -20 "$WORK/puppet.log" >&2; die "puppet apply failed (log: $WORK/puppet.log)"; }
  # What a boot's `puppet apply` of the same code would find: nothing left to change.
  status=$(puppet_apply "$root")
  [ "$status" = 0 ] \
    || { tail -20 "$WORK/puppet.log" >&2; die "a second puppet apply still changed something (log: $WORK/puppet.log)"; }
  # Bytecode now, natively: the worker's user cannot write it into the venv, and compiling
  # on every start costs seconds under emulation.
  chroot "$root" env -i PATH=/usr/bin:/bin /opt/imgproc/venv/bin/python -m compileall -q -j 0 /opt/imgproc/venv/lib >/dev/null
  unmount_chroot "$root"
  trap - EXIT
  # Puppet's state and reports name the build host: the image keeps none of them.
  rm -rf "$root/tmp/imgproc-wheels" "$root/tmp/imgproc-puppet" "$root/var/cache/puppet/reports" \
    "$root/var/cache/puppet/state" "$root/var/lib/puppet/reports" "$root/var/lib/puppet/state"
}

started=$SECONDS
mkdir -p "$WORK" "$IMAGES_DIR"
ROOT="$WORK/rootfs"

# The debootstrap stage is cached on its own (by packages and mirror), so changing
# the guest's configuration below costs seconds, not a download.
BASE="$BOX_DIR/base-$BASE_HASH.tar"
if [ ! -f "$BASE" ]; then
  unmount_chroot "$ROOT"; rm -rf --one-file-system "$ROOT"
  log "debootstrap $SUITE from $MIRROR (a minute or two)"
  debootstrap "${DEBOOTSTRAP_ARGS[@]}" --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log: $WORK/debootstrap.log)"; }
  chroot "$ROOT" apt-get clean
  tar -C "$ROOT" --numeric-owner -cf "$BASE.tmp" .
  mv "$BASE.tmp" "$BASE"
else
  unmount_chroot "$ROOT"; rm -rf --one-file-system "$ROOT"
  mkdir -p "$ROOT"
  tar -C "$ROOT" --numeric-owner -xf "$BASE"
fi
for old in "$BOX_DIR"/*; do  # earlier builds' leftovers
  case "$old" in "$WORK"|"$BASE"|"$BOX_DIR/box.json"|"$BOX_DIR/volume.ok") ;; *) unmount_chroot "$old/rootfs"; rm -rf --one-file-system "$old" ;; esac
done

log "configuring the guest"
echo "imgproc-box" >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\timgproc-box\n' >"$ROOT/etc/hosts"
echo "/dev/vda / ext4 defaults,noatime 0 1" >"$ROOT/etc/fstab"
: >"$ROOT/etc/machine-id"            # empty: each clone makes its own on first boot
rm -f "$ROOT/var/lib/dbus/machine-id"

mkdir -p "$ROOT/etc/systemd/network"
cat >"$ROOT/etc/systemd/network/80-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4

[DHCPv4]
ClientIdentifier=mac
EOF
chroot "$ROOT" systemctl enable systemd-networkd.service >/dev/null 2>&1
# Nothing in the guest needs names from outside; boot must not wait for a network it may not get.
chroot "$ROOT" systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1 || true
# The Puppet agent would look for a server called "puppet"; Vagrant runs `puppet apply` instead.
chroot "$ROOT" systemctl disable puppet.service >/dev/null 2>&1 || true
chroot "$ROOT" systemctl mask puppet.service >/dev/null 2>&1 || true
# Boot-time chores that cost seconds under emulation and do nothing for a short-lived worker.
# And units a worker never uses, each seconds of a boot under emulation (systemd-analyze
# blame in a guest): module loads for graphics, EFI, FUSE, device mapper and loop
# devices, debug and tracing file systems, huge pages, message queues, binfmt.
for unit in e2scrub_reap.service e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer man-db.timer \
            modprobe@drm.service modprobe@efi_pstore.service modprobe@fuse.service \
            modprobe@configfs.service modprobe@dm_mod.service modprobe@loop.service \
            sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount \
            sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount \
            systemd-binfmt.service proc-sys-fs-binfmt_misc.automount; do
  chroot "$ROOT" systemctl mask "$unit" >/dev/null 2>&1 || true
done
chroot "$ROOT" systemctl set-default multi-user.target >/dev/null 2>&1

# sshd: host keys made on each clone's first boot, no DNS lookups of clients. Ed25519 and
# ECDSA keys only: making the RSA key (`ssh-keygen -A`) took 45 s of a boot under emulation.
rm -f "$ROOT"/etc/ssh/ssh_host_*
cat >"$ROOT/usr/local/sbin/imgproc-ssh-host-keys" <<'EOF'
#!/bin/sh
# This clone's own SSH host keys, made on its first boot (the box holds none).
set -e
for type in ed25519 ecdsa; do
  [ -f "/etc/ssh/ssh_host_${type}_key" ] || ssh-keygen -q -t "$type" -N '' -f "/etc/ssh/ssh_host_${type}_key"
done
EOF
chmod 755 "$ROOT/usr/local/sbin/imgproc-ssh-host-keys"
mkdir -p "$ROOT/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/local/sbin/imgproc-ssh-host-keys\nExecStartPre=/usr/sbin/sshd -t\n' \
  >"$ROOT/etc/systemd/system/ssh.service.d/host-keys.conf"
printf 'UseDNS no\nHostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n' \
  >"$ROOT/etc/ssh/sshd_config.d/imgproc.conf"

# User vagrant: Vagrant's insecure key, passwordless sudo.
chroot "$ROOT" id vagrant >/dev/null 2>&1 || chroot "$ROOT" useradd -m -s /bin/bash vagrant
install -d -m 700 -o 0 -g 0 "$ROOT/home/vagrant/.ssh"
install -m 600 "$KEY" "$ROOT/home/vagrant/.ssh/authorized_keys"
chroot "$ROOT" chown -R vagrant:vagrant /home/vagrant/.ssh
chmod 700 "$ROOT/home/vagrant"  # provisioning uploads the guest's settings there
echo "vagrant ALL=(ALL) NOPASSWD: ALL" >"$ROOT/etc/sudoers.d/vagrant"
chmod 440 "$ROOT/etc/sudoers.d/vagrant"
echo "root:vagrant" | chroot "$ROOT" chpasswd

# Facter: no cloud metadata lookups (they would leave the VMs' network) and none of the slow
# groups Puppet's worker manifest does not use.
mkdir -p "$ROOT/etc/facter" "$ROOT/etc/puppetlabs/facter"
cat >"$ROOT/etc/facter/facter.conf" <<'EOF'
facts : {
  blocklist : [ "EC2", "GCE", "Xen", "AIX NIM type", "augeas", "desktop management interface",
                "disks", "file system", "hypervisors", "ssh", "virtualization", "fips",
                "ldom", "Solaris zone", "ZFS", "ZFS storage pool", "system profiler" ]
}
EOF
cp "$ROOT/etc/facter/facter.conf" "$ROOT/etc/puppetlabs/facter/facter.conf"

bake "$ROOT"

chroot "$ROOT" apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/tmp/* "$ROOT"/var/log/*.log

log "kernel and initrd out of the image (direct kernel boot)"
install -m 644 "$(readlink -f "$ROOT/vmlinuz")" "$KERNEL"
install -m 644 "$(readlink -f "$ROOT/initrd.img")" "$INITRD"

log "ext4 image, qcow2, box"
rm -f "$WORK/root.ext4" "$WORK/box.img"
mkfs.ext4 -q -F -L root -d "$ROOT" "$WORK/root.ext4" "$IMAGE_SIZE" >&2
qemu-img convert -f raw -O qcow2 "$WORK/root.ext4" "$WORK/box.img"
rm -rf --one-file-system "$WORK/root.ext4" "$ROOT"
size_gb=$(( ($(numfmt --from=iec "$IMAGE_SIZE") + 1073741823) / 1073741824 ))
printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %d, "imgproc_hash": "%s"}\n' \
  "$size_gb" "$HASH" >"$WORK/metadata.json"
cat >"$WORK/Vagrantfile" <<EOF
# Defaults of the imgproc box: direct kernel boot, software emulation.
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.driver = "qemu"
    libvirt.kernel = "$KERNEL"
    libvirt.initrd = "$INITRD"
    libvirt.cmd_line = "$CMD_LINE"
  end
end
EOF
tar -C "$WORK" -cf "$WORK/$BOX.box" metadata.json Vagrantfile box.img
rm -f "$WORK/box.img"

if vms_exist; then
  log "keeping the older boxes: VMs of ours exist, and their disks may be backed by them"
else
  for name in $(other_boxes); do
    log "removing the older box $name"
    remove_box "$name"
  done
  for file in "$IMAGES_DIR/$BOX_PREFIX"-*-vmlinuz "$IMAGES_DIR/$BOX_PREFIX"-*-initrd.img; do
    case "$file" in "$KERNEL"|"$INITRD") ;; *) rm -f "$file" ;; esac  # left by an interrupted build
  done
fi
log "vagrant box add $BOX"
vagrant box add --force --name "$BOX" "$WORK/$BOX.box" >/dev/null
rm -f "$WORK/$BOX.box"
upload_volume
log "box $BOX built in $((SECONDS - started)) s"
describe | tee "$BOX_DIR/box.json"
