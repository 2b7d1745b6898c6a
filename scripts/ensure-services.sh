#!/usr/bin/env bash
# Installs RabbitMQ and ZooKeeper from the system's packages when missing,
# starts them when they are not running, and waits until both answer.
# Idempotent: on a machine where both run, it only checks them. What it installs
# or starts is recorded for scripts/reset-host.sh (scripts/lib/host.sh).
set -euo pipefail
. "$(dirname "$0")/lib/host.sh"

ZK_BIN=/usr/share/zookeeper/bin
ZK_CONF=/etc/zookeeper/conf

log() { echo "[services] $*" >&2; }

rabbit_ok() { rabbitmq-diagnostics -q check_running; }

ensure_rabbitmq() {
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  if ! rabbit_ok >/dev/null 2>&1; then
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached >/dev/null 2>&1 || true
    remember daemon rabbitmq
  fi
  wait_for RabbitMQ rabbit_ok
  log "RabbitMQ is up"
}

zk_ok() {
  grep -q cZxid <<<"$(timeout 10 "$ZK_BIN/zkCli.sh" -server 127.0.0.1:2181 stat /zookeeper 2>/dev/null)"
}

ensure_zookeeper() {
  [ -x "$ZK_BIN/zkServer.sh" ] || apt_install zookeeper
  if ! zk_ok; then
    log "starting ZooKeeper"
    as_root mkdir -p /var/log/zookeeper
    (cd /tmp && ZOOCFGDIR=$ZK_CONF ZOO_LOG_DIR=/var/log/zookeeper as_root "$ZK_BIN/zkServer.sh" start >/dev/null 2>&1) || true
    remember daemon zookeeper
  fi
  wait_for ZooKeeper zk_ok
  log "ZooKeeper is up"
}

ensure_rabbitmq
ensure_zookeeper
