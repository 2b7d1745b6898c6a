#!/usr/bin/env bash
# Installs RabbitMQ and ZooKeeper from the system's packages when missing,
# starts them when they are not running, and waits until both answer.
# Idempotent: on a machine where both run, it only checks them.
set -euo pipefail

ZK_BIN=/usr/share/zookeeper/bin
ZK_CONF=/etc/zookeeper/conf
WAIT_S=${IMGPROC_SERVICE_WAIT_S:-90}
APT_UPDATED=""

log() { echo "[services] $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -q >/dev/null
    APT_UPDATED=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "$@" >/dev/null
}

wait_for() {  # name, command...
  local name=$1; shift
  local deadline=$((SECONDS + WAIT_S))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      log "$name did not answer within ${WAIT_S}s"; return 1
    fi
    sleep 1
  done
  log "$name is up"
}

rabbit_ok() { rabbitmq-diagnostics -q check_running; }

ensure_rabbitmq() {
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  if ! rabbit_ok >/dev/null 2>&1; then
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  wait_for RabbitMQ rabbit_ok
}

zk_ok() {
  timeout 10 "$ZK_BIN/zkCli.sh" -server 127.0.0.1:2181 stat /zookeeper 2>/dev/null | grep -q cZxid
}

ensure_zookeeper() {
  [ -x "$ZK_BIN/zkServer.sh" ] || apt_install zookeeper
  if ! zk_ok; then
    log "starting ZooKeeper"
    as_root mkdir -p /var/log/zookeeper
    (cd /tmp && ZOOCFGDIR=$ZK_CONF ZOO_LOG_DIR=/var/log/zookeeper as_root "$ZK_BIN/zkServer.sh" start >/dev/null 2>&1) || true
  fi
  wait_for ZooKeeper zk_ok
}

ensure_rabbitmq
ensure_zookeeper
