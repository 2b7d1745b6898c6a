# Shared by the host scripts (ensure-services.sh, ensure-vagrant.sh, reset-host.sh); sourced,
# never run. Whatever these scripts make on the host (a package installed, a daemon started,
# a storage pool defined, a group created) is written down in $HOST_LEDGER, one "kind name
# [detail]" line each, so that scripts/reset-host.sh removes exactly that and nothing the
# machine had before.
#
# Under `set -o pipefail`, never `cmd | grep -q`: grep exits at its first match, cmd may die
# of SIGPIPE, and the pipeline then fails although it matched. `grep -q P <<<"$(cmd)"` instead.

HOST_STATE_DIR=${IMGPROC_HOST_STATE_DIR:-/var/lib/imgproc/host}
HOST_LEDGER="$HOST_STATE_DIR/made"
WAIT_S=${IMGPROC_SERVICE_WAIT_S:-90}
LIBVIRT_URI=qemu:///system
APT_UPDATED=""

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

remember() {  # kind name [detail]: record that these scripts made it (once)
  as_root mkdir -p "$HOST_STATE_DIR"
  grep -qxF "$*" "$HOST_LEDGER" 2>/dev/null || echo "$*" | as_root tee -a "$HOST_LEDGER" >/dev/null
}

recorded() {  # kind: the names of that kind the ledger holds, one a line
  [ -f "$HOST_LEDGER" ] || return 0
  awk -v k="$1" '$1 == k {print $2}' "$HOST_LEDGER"
}

recorded_detail() {  # kind name: the rest of that line
  [ -f "$HOST_LEDGER" ] || return 0
  awk -v k="$1" -v n="$2" '$1 == k && $2 == n {$1 = ""; $2 = ""; sub(/^ +/, ""); print; exit}' "$HOST_LEDGER"
}

forget() {  # kind name: drop the line once what it names is gone
  [ -f "$HOST_LEDGER" ] || return 0
  awk -v k="$1" -v n="$2" '!($1 == k && $2 == n)' "$HOST_LEDGER" \
    | as_root tee "$HOST_LEDGER.new" >/dev/null
  as_root mv "$HOST_LEDGER.new" "$HOST_LEDGER"
}

package_installed() {
  grep -q '^install ok installed' <<<"$(dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null)"
}

apt_install() {  # packages...: installs those missing, from Debian's packages, and records them
  local missing=() p
  for p in "$@"; do package_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -q >/dev/null
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  # No daemon may be started by the packages' scripts: there is no init system to own them.
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do remember package "$p"; done
}

wait_for() {  # name, command...: until the command succeeds, at most $WAIT_S seconds
  local name=$1; shift
  local deadline=$((SECONDS + WAIT_S))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      log "$name did not answer within ${WAIT_S}s"; return 1
    fi
    sleep 1
  done
}

virsh_system() { timeout 30 virsh -c "$LIBVIRT_URI" "$@"; }
