#!/usr/bin/env bash
# Puts this host back as it was before imgproc's test command first ran on it, so that the
# next run proves the set-up steps instead of finding their results: a machine that ran
# the suite before hides a missing one. Removes
#   - libvirt domains named imgproc_* and their volumes, every volume of ours in the pool
#     `default`, the box's kernels and initrds;
#   - the pool `default` if scripts/ensure-vagrant.sh defined it, and the VMs' network
#     `vagrant-libvirt` if imgproc's provider made it (a transient network: vagrant-libvirt's
#     own are persistent);
#   - imgproc's Vagrant boxes, the box cache ($IMGPROC_BOX_DIR, /var/lib/imgproc/box);
#   - the RabbitMQ virtual hosts, queues and ZooKeeper roots of imgproc's runs (tests that
#     were killed leave theirs);
#   - the worker VMs' credentials of scripts/ensure-services.sh: the RabbitMQ user
#     imgproc-fleet (when the scripts added it) and /var/lib/imgproc/fleet, its password and
#     the secret of the S3 access key imgproc-fleet (which goes with the identities below);
#   - this checkout's .venv, .imgproc, build and caches;
#   - the daemons the scripts started (they are stopped: RabbitMQ, ZooKeeper, SeaweedFS's
#     weed), the group they created, and /dev/kvm's group and mode as they were;
#   - the object store SeaweedFS of scripts/ensure-services.sh: its virtual environment, data,
#     identities and sockets (/var/lib/imgproc/seaweedfs), the S3 credentials
#     (/var/lib/imgproc/storage) and its log (/var/log/imgproc/seaweedfs.log, and
#     /var/log/imgproc when the scripts made it);
#   - with --packages, also the Debian packages the scripts installed (and what only they
#     needed), as on a machine that never had them.
# Only what scripts/lib/host.sh's ledger says the scripts made is undone; the rest of the
# machine (its RabbitMQ, say, when it was running before) is left alone.
#
#   scripts/reset-host.sh --yes [--packages]
#   git clone . /tmp/clean && /tmp/clean/scripts/test     # then: must pass
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/host.sh

BOX_DIR=${IMGPROC_BOX_DIR:-/var/lib/imgproc/box}
IMAGES_DIR=${IMGPROC_BOX_IMAGES_DIR:-/var/lib/libvirt/images}
NETWORK=vagrant-libvirt
PACKAGES=""
YES=""

log() { echo "[reset] $*" >&2; }

for arg in "$@"; do
  case "$arg" in
    --yes) YES=1 ;;
    --packages) PACKAGES=1 ;;
    *) log "unknown option $arg (usage: scripts/reset-host.sh --yes [--packages])"; exit 2 ;;
  esac
done
if [ -z "$YES" ]; then
  log "this removes imgproc's VMs, boxes, caches, virtual environment and object store from this host;"
  log "run it again with --yes to do so"
  exit 2
fi

libvirt_up() { command -v virsh >/dev/null && virsh_system list >/dev/null 2>&1; }

remove_domains() {
  local domain
  for domain in $(virsh_system list --all --name | grep '^imgproc_' || true); do
    log "removing VM $domain"
    virsh_system destroy "$domain" >/dev/null 2>&1 || true
    virsh_system undefine "$domain" --remove-all-storage --nvram >/dev/null 2>&1 \
      || virsh_system undefine "$domain" --remove-all-storage >/dev/null 2>&1 || true
  done
}

remove_volumes() {
  virsh_system pool-info default >/dev/null 2>&1 || return 0
  virsh_system pool-refresh default >/dev/null 2>&1 || true
  local volume
  for volume in $(virsh_system vol-list default 2>/dev/null | awk 'NR > 2 && $1 ~ /^imgproc/ {print $1}'); do
    log "removing volume $volume"
    virsh_system vol-delete --pool default "$volume" >/dev/null 2>&1 || true
  done
}

remove_pool_and_network() {
  if grep -qx default <<<"$(recorded pool)" && virsh_system pool-info default >/dev/null 2>&1; then
    log "removing the storage pool default (ensure-vagrant.sh defined it)"
    virsh_system pool-destroy default >/dev/null 2>&1 || true
    virsh_system pool-undefine default >/dev/null
  fi
  forget pool default
  if grep -Eq '^Persistent:[[:space:]]+no' <<<"$(virsh_system net-info "$NETWORK" 2>/dev/null)"; then
    log "removing the network $NETWORK (made by imgproc's provider)"
    virsh_system net-destroy "$NETWORK" >/dev/null
  fi
}

remove_boxes() {
  rm -f "$IMAGES_DIR"/imgproc-bookworm-*-vmlinuz "$IMAGES_DIR"/imgproc-bookworm-*-initrd.img
  if command -v vagrant >/dev/null; then
    local box
    for box in $(vagrant box list --machine-readable 2>/dev/null \
                 | awk -F, '$3 == "box-name" && $4 ~ /^imgproc-/ {print $4}'); do
      log "removing Vagrant box $box"
      vagrant box remove --force --all "$box" >/dev/null
    done
    vagrant global-status --prune >/dev/null 2>&1 || true
  fi
  # A box build killed while Puppet ran in the image leaves /proc, /sys and /dev bound
  # into it: unmount them first, and never cross into another file system.
  local mount
  for mount in $(awk -v d="$BOX_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$mount" || true
  done
  rm -rf --one-file-system "$BOX_DIR" "$BOX_DIR.lock"
}

remove_test_leftovers() {
  if command -v rabbitmqctl >/dev/null && rabbitmqctl -q status >/dev/null 2>&1; then
    local vhost queue
    for vhost in $(rabbitmqctl -q --no-table-headers list_vhosts name | grep '^imgproc-' || true); do
      log "removing RabbitMQ vhost $vhost"
      rabbitmqctl -q delete_vhost "$vhost" >/dev/null
    done
    for queue in $(rabbitmqctl -q --no-table-headers list_queues name \
                   | grep -E '^(upload-picture(\.dead)?|deployer(_callback)?|imgproc\..*)$' || true); do
      log "removing RabbitMQ queue $queue"
      rabbitmqctl -q delete_queue "$queue" >/dev/null
    done
  fi
  local zk=/usr/share/zookeeper/bin/zkCli.sh root
  if [ -x "$zk" ]; then
    for root in $(timeout 20 "$zk" -server 127.0.0.1:2181 ls / 2>/dev/null | tail -1 | tr -d '[],' \
                  | tr ' ' '\n' | grep -E '^imgproc(-|$)' || true); do
      log "removing ZooKeeper root /$root"
      timeout 20 "$zk" -server 127.0.0.1:2181 deleteall "/$root" >/dev/null 2>&1 || true
    done
  fi
}

remove_rabbit_users() {  # those the scripts added, while RabbitMQ still runs
  local user
  for user in $(recorded rabbit-user); do
    if ! command -v rabbitmqctl >/dev/null || ! rabbitmqctl -q status >/dev/null 2>&1; then
      log "RabbitMQ is not running: its user $user is kept, and so is the ledger's line"
      continue
    fi
    if grep -qxF "$user" <<<"$(as_root rabbitmqctl -s list_users | cut -f1)"; then
      log "removing the RabbitMQ user $user (ensure-services.sh added it)"
      as_root rabbitmqctl -q delete_user "$user" >/dev/null
    fi
    forget rabbit-user "$user"
  done
}

stop_weed() {  # SeaweedFS flushes its volumes on SIGTERM; its files go only once it has ended
  as_root pkill -x weed || true
  local deadline=$((SECONDS + 30))
  while pgrep -x weed >/dev/null && [ $SECONDS -lt $deadline ]; do sleep 1; done
  if pgrep -x weed >/dev/null; then
    log "weed did not end within 30s; killing it"
    as_root pkill -KILL -x weed || true
  fi
}

stop_daemons() {
  local daemon
  for daemon in $(recorded daemon); do
    log "stopping $daemon (the scripts started it)"
    case "$daemon" in
      zookeeper) (cd /tmp && ZOOCFGDIR=/etc/zookeeper/conf as_root /usr/share/zookeeper/bin/zkServer.sh stop >/dev/null 2>&1) || true ;;
      rabbitmq) as_root rabbitmqctl -q stop >/dev/null 2>&1 || true ;;
      weed) stop_weed ;;
      *) as_root pkill -x "$daemon" || true ;;
    esac
    forget daemon "$daemon"
  done
}

remove_made_files() {  # what the ledger says the scripts made, only below imgproc's own directories
  local kind path
  for kind in file dir; do
    for path in $(recorded "$kind"); do
      case "$path" in
        /var/lib/imgproc/?*|/var/log/imgproc|/var/log/imgproc/?*)
          log "removing $path"
          as_root rm -rf "$path" ;;
        *) log "not removing $path: outside imgproc's directories" ;;
      esac
      forget "$kind" "$path"
    done
  done
}

restore_permissions() {
  local mode
  mode=$(recorded_detail device /dev/kvm)
  if [ -n "$mode" ] && [ -e /dev/kvm ]; then
    log "giving /dev/kvm back owner, group and mode $mode"
    as_root chown "${mode%:*}" /dev/kvm
    as_root chmod "${mode##*:}" /dev/kvm
  fi
  forget device /dev/kvm
  if grep -qx kvm <<<"$(recorded group)"; then
    as_root groupdel kvm 2>/dev/null || log "group kvm is still in use; kept"
    forget group kvm
  fi
}

remove_packages() {
  local packages
  packages=$(recorded package | tr '\n' ' ')
  [ -n "$packages" ] || return 0
  log "purging $packages"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive as_root apt-get purge -y -q $packages >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get autoremove --purge -y -q >/dev/null
  # What the packages' programs left behind them, which purging does not remove.
  case " $packages " in *" vagrant "*) rm -rf "${VAGRANT_HOME:-$HOME/.vagrant.d}" ;; esac
  case " $packages " in *" libvirt-daemon-system "*) as_root rm -rf /var/lib/libvirt /var/log/libvirt ;; esac
  for package in $packages; do forget package "$package"; done
}

if libvirt_up; then
  remove_domains
  remove_volumes
  remove_pool_and_network
fi
remove_boxes
remove_test_leftovers
scripts/cluster.sh stop --clean || true   # the clustered-broker tests' own nodes, and their directory
remove_rabbit_users
stop_daemons
remove_made_files
restore_permissions
[ -n "$PACKAGES" ] && remove_packages
rm -rf .venv .imgproc build .pytest_cache .mypy_cache .ruff_cache .hypothesis
log "done; now, from a clean clone: scripts/test"
