#!/usr/bin/env bash
# A 3-node RabbitMQ cluster and a 3-server ZooKeeper ensemble on this machine, for trying
# imgproc on clustered brokers and for tests/cluster (docs/reliability.md, "Clustered
# brokers"). Everything runs as the current user and lives under DIR (default
# $IMGPROC_CLUSTER_DIR or /tmp/imgproc-cluster): configuration, data, logs, pid files and the
# Erlang cookie. The machine's own RabbitMQ (rabbit@localhost, 5672) and ZooKeeper (2181) are
# never touched: other node names, ports, directories.
#
#   RabbitMQ  imgproc-c1..c3@localhost   AMQP 5681-5683, distribution 25681-25683
#   ZooKeeper servers 1..3               client 2191-2193, quorum 2891-2893, election 3891-3893
#
#   scripts/cluster.sh start [--dir DIR]        # start what is not running, join, wait for all
#                                               # six, print the settings (idempotent)
#   scripts/cluster.sh stop [--dir DIR] [--clean]   # stop cleanly; --clean also removes DIR
#   scripts/cluster.sh status [--dir DIR]       # each node's state; exit 1 unless all six answer
#   scripts/cluster.sh env [--dir DIR]          # the settings: eval "$(scripts/cluster.sh env)"
#   scripts/cluster.sh kill-node rabbit|zk N    # SIGKILL one node (a crash, not a shutdown)
#   scripts/cluster.sh start-node rabbit|zk N   # start it again; returns once it has rejoined
#   scripts/cluster.sh [--dir DIR] ctl N ARGS...    # rabbitmqctl -n imgproc-cN@localhost ARGS
#   scripts/cluster.sh zk-mode N                # leader, follower, or down
# --dir may come anywhere but after `ctl N`. start-node is for one node of a running cluster: a
# RabbitMQ node started alone after the whole cluster stopped waits for its peers.
set -euo pipefail

RABBIT_LIB=/usr/lib/rabbitmq/bin
ZK_JAR=/usr/share/java/zookeeper.jar
ZK_LOG_CONF=/etc/zookeeper/conf   # log4j.properties, on the classpath as zkServer.sh puts it
INSTALLED_COOKIE=/var/lib/rabbitmq/.erlang.cookie
NODES=(1 2 3)
WAIT_S=${IMGPROC_CLUSTER_WAIT_S:-90}
DIR=${IMGPROC_CLUSTER_DIR:-/tmp/imgproc-cluster}
CLEAN=""

log() { echo "[cluster] $*" >&2; }
die() { log "$*"; exit 1; }

# -- RabbitMQ ----------------------------------------------------------------------------

node_name() { echo "imgproc-c$1@localhost"; }
rabbit_dir() { echo "$DIR/rabbit/c$1"; }

rabbit_env() {  # N: the environment of node N and of the CLI talking to it
  local d
  d=$(rabbit_dir "$1")
  export HOME="$DIR/rabbit"   # the Erlang cookie: $HOME/.erlang.cookie
  export RABBITMQ_NODENAME RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$((5680 + $1))
  RABBITMQ_NODENAME=$(node_name "$1")
  export RABBITMQ_DIST_PORT=$((25680 + $1))
  export RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"   # never written: advanced.config says all
  export RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/pid"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

ctl() {  # N ARGS...: rabbitmqctl on node N, with the cluster's cookie
  local n=$1; shift
  (rabbit_env "$n" && timeout 60 "$RABBIT_LIB/rabbitmqctl" -n "$(node_name "$n")" "$@")
}

write_cookie() {
  local cookie="$DIR/rabbit/.erlang.cookie"
  [ -s "$cookie" ] && return 0
  mkdir -p "$DIR/rabbit"
  if [ -r "$INSTALLED_COOKIE" ]; then  # the installed one: plain `rabbitmqctl -n` works too
    cp "$INSTALLED_COOKIE" "$cookie"
  else
    tr -dc A-Z </dev/urandom | head -c 32 >"$cookie" || true
  fi
  chmod 400 "$cookie"
}

write_rabbit_config() {  # N: Erlang terms only: no rabbitmq.conf, whose translation costs seconds
  local d
  d=$(rabbit_dir "$1")
  mkdir -p "$d/log" "$d/mnesia"
  : >"$d/rabbitmq-env.conf"   # not /etc/rabbitmq's, which names the machine's own node
  echo "[]." >"$d/enabled_plugins"
  echo "[{rabbit, [{tcp_listeners, [{\"127.0.0.1\", $((5680 + $1))}]}]}]." >"$d/advanced.config"
}

beam_pid() {  # N: the pid of node N's Erlang VM, if it runs
  local pidfile pid
  pidfile="$(rabbit_dir "$1")/pid"
  if [ -s "$pidfile" ]; then
    pid=$(<"$pidfile")
    if [ -r "/proc/$pid/environ" ] && grep -qxF "RABBITMQ_NODENAME=$(node_name "$1")" \
         <<<"$(tr '\0' '\n' <"/proc/$pid/environ")"; then
      echo "$pid"; return 0
    fi
  fi
  registered "$1" || return 1
  ctl "$1" -q eval 'list_to_integer(os:getpid()).' 2>/dev/null  # running, its pid file lost
}

registered() {  # N: node N's name is known to epmd (its VM runs)
  grep -q "^name imgproc-c$1 at port" <<<"$(epmd -names 2>/dev/null)"
}

port_open() {  # PORT: something listens on 127.0.0.1:PORT
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

rabbit_up() { port_open $((5680 + $1)); }   # its AMQP listener opens last when it boots

start_rabbit() {  # N: start node N unless it runs
  registered "$1" && return 0
  ! rabbit_up "$1" || die "port $((5680 + $1)) is taken, but not by $(node_name "$1")"
  write_rabbit_config "$1"
  log "starting RabbitMQ $(node_name "$1")"
  local d
  d=$(rabbit_dir "$1")
  rm -f "$d/pid"
  (rabbit_env "$1" && cd "$d" && exec setsid "$RABBIT_LIB/rabbitmq-server" \
    >"$d/log/startup.log" 2>&1 </dev/null) &
}

cluster_nodes() {  # N KIND: running_nodes or disk_nodes (members) as node N sees them
  local out
  out=$(ctl "$1" -q cluster_status --formatter json 2>/dev/null) || return 1
  out=$(grep -o "\"$2\":\\[[^]]*\\]" <<<"$out") || return 1
  grep -o 'imgproc-c[0-9]@localhost' <<<"$out"
}

in_cluster() {  # N: node N runs in the same cluster as node 1 (or as node 2, if N is 1)
  local peer=1
  [ "$1" = 1 ] && peer=2
  grep -qx "$(node_name "$1")" <<<"$(cluster_nodes "$peer" running_nodes)"
}

all_running() {  # every node runs, in one cluster
  local running n
  running=$(cluster_nodes 1 running_nodes) || return 1
  for n in "${NODES[@]}"; do grep -qx "$(node_name "$n")" <<<"$running" || return 1; done
}

join_rabbit() {  # N: join node N, never joined before, to node 1's cluster
  log "joining $(node_name "$1") to $(node_name 1)"
  ctl "$1" -q stop_app >/dev/null &&
    ctl "$1" -q join_cluster "$(node_name 1)" >/dev/null &&
    ctl "$1" -q start_app >/dev/null
}

join_new_nodes() {  # join the nodes that are not members of node 1's cluster yet, one by one:
  # two nodes joining at once can both copy the schema mid-change, and the second dies with
  # Mnesia's "Incompatible schema storage types" (seen on a new machine)
  local members n
  members=$(cluster_nodes 1 disk_nodes) || die "cannot read the members of $(node_name 1)'s cluster"
  for n in 2 3; do
    grep -qx "$(node_name "$n")" <<<"$members" && continue
    join_rabbit "$n" || die "$(node_name "$n") could not join (logs under $DIR/rabbit)"
  done
}

wait_rabbit() {  # N: until node N has booted and runs in the cluster
  wait_until "RabbitMQ $(node_name "$1") to boot" rabbit_up "$1"
  wait_until "RabbitMQ $(node_name "$1") in the cluster" in_cluster "$1"
}

stop_rabbit() {  # N
  registered "$1" || return 0
  log "stopping RabbitMQ $(node_name "$1")"
  ctl "$1" -q stop >/dev/null 2>&1 || true
  wait_until "RabbitMQ $(node_name "$1") to stop" not registered "$1"
}

# -- ZooKeeper ---------------------------------------------------------------------------

zk_dir() { echo "$DIR/zk/$1"; }
zk_port() { echo $((2190 + $1)); }

write_zk_config() {  # N
  local d n
  d=$(zk_dir "$1")
  mkdir -p "$d/data" "$d/log"
  echo "$1" >"$d/data/myid"
  {
    echo "tickTime=2000"
    echo "initLimit=5"
    echo "syncLimit=2"
    echo "dataDir=$d/data"
    echo "clientPort=$(zk_port "$1")"
    echo "clientPortAddress=127.0.0.1"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=srvr,stat,ruok,mntr"
    echo "autopurge.purgeInterval=1"
    for n in "${NODES[@]}"; do echo "server.$n=127.0.0.1:$((2890 + n)):$((3890 + n))"; done
  } >"$d/zoo.cfg"
}

zk_pid() {  # N: the pid of server N's JVM, if it runs
  local pidfile pid
  pidfile="$(zk_dir "$1")/pid"
  [ -s "$pidfile" ] || return 1
  pid=$(<"$pidfile")
  [ -r "/proc/$pid/cmdline" ] || return 1
  grep -qF "$(zk_dir "$1")/zoo.cfg" <<<"$(tr '\0' ' ' <"/proc/$pid/cmdline")" || return 1
  echo "$pid"
}

start_zk() {  # N: start server N unless it runs (as zkServer.sh would, but with our log dir)
  if zk_pid "$1" >/dev/null; then return 0; fi
  ! port_open "$(zk_port "$1")" || die "port $(zk_port "$1") is taken, but not by our server $1"
  write_zk_config "$1"
  log "starting ZooKeeper server $1"
  local d
  d=$(zk_dir "$1")
  (cd "$d" && exec setsid java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dzookeeper.log.dir="$d/log" -Dzookeeper.root.logger=INFO,ROLLINGFILE \
    -cp "$ZK_LOG_CONF:$ZK_JAR" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" \
    >"$d/log/zookeeper.out" 2>&1 </dev/null) &
  echo $! >"$d/pid"
}

four_letters() {  # N WORD: ZooKeeper server N's answer to a four-letter word
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && echo "$2" >&3 && cat <&3' _ \
    "$(zk_port "$1")" "$2" 2>/dev/null
}

zk_mode() {  # N: leader, follower, standalone, or down
  local out
  out=$(four_letters "$1" srvr) || out=""
  out=$(grep -o '^Mode: [a-z]*' <<<"$out") || { echo down; return 0; }
  echo "${out#Mode: }"
}

zk_ok() { grep -qxE 'leader|follower' <<<"$(zk_mode "$1")"; }

stop_zk() {  # N
  local pid
  pid=$(zk_pid "$1") || return 0
  log "stopping ZooKeeper server $1"
  kill -TERM "$pid" 2>/dev/null || true
  wait_until "ZooKeeper server $1 to stop" not zk_pid "$1"
  rm -f "$(zk_dir "$1")/pid"
}

# -- both --------------------------------------------------------------------------------

not() { ! "$@" >/dev/null 2>&1; }

wait_until() {  # what, command...: until the command succeeds, at most $WAIT_S seconds
  local what=$1; shift
  local deadline=$((SECONDS + WAIT_S))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what: not within ${WAIT_S}s (logs under $DIR)"
    sleep 0.2
  done
}

settings() {
  local urls="" hosts="" n
  for n in "${NODES[@]}"; do
    urls+="${urls:+,}amqp://guest:guest@127.0.0.1:$((5680 + n))/%2F"
    hosts+="${hosts:+,}127.0.0.1:$(zk_port "$n")"
  done
  echo "export IMGPROC_RABBIT='{\"url\": \"$urls\"}'"
  echo "export IMGPROC_ZK='{\"hosts\": \"$hosts\"}'"
}

require_tools() {
  local hint="scripts/ensure-services.sh installs it"
  [ -x "$RABBIT_LIB/rabbitmq-server" ] || die "RabbitMQ is not installed ($hint)"
  [ -r "$ZK_JAR" ] || die "ZooKeeper is not installed ($hint)"
  command -v java >/dev/null || die "java is missing (the zookeeper package needs it)"
  mkdir -p "$DIR" && [ -w "$DIR" ] || die "$DIR is not writable by $(id -un)"
}

cmd_start() {
  local started=$SECONDS n
  require_tools
  write_cookie
  for n in "${NODES[@]}"; do start_rabbit "$n"; start_zk "$n"; done
  for n in "${NODES[@]}"; do wait_until "RabbitMQ $(node_name "$n") to boot" rabbit_up "$n"; done
  join_new_nodes
  wait_until "every RabbitMQ node running in one cluster" all_running
  for n in "${NODES[@]}"; do wait_until "ZooKeeper server $n (leader or follower)" zk_ok "$n"; done
  log "all six nodes answer ($((SECONDS - started)) s); the settings:"
  settings
}

cmd_stop() {  # every node at once; --clean removes DIR only once all of them stopped
  local n pids=()
  for n in "${NODES[@]}"; do stop_rabbit "$n" & pids+=($!); done
  for n in "${NODES[@]}"; do stop_zk "$n" & pids+=($!); done
  for n in "${pids[@]}"; do wait "$n" || die "a node did not stop (logs under $DIR)"; done
  if [ -n "$CLEAN" ]; then
    log "removing $DIR"
    rm -rf "$DIR"
  fi
}

cmd_status() {  # each node's state; 0 if all six answer, in one cluster and one ensemble
  local n state running="" all=0
  for n in "${NODES[@]}"; do
    rabbit_up "$n" && running=$(cluster_nodes "$n" running_nodes) && break
  done
  for n in "${NODES[@]}"; do
    state=down
    if rabbit_up "$n"; then
      state="running, not in the cluster"
      grep -qx "$(node_name "$n")" <<<"$running" && state=running
    fi
    [ "$state" = running ] || all=1
    echo "rabbit $(node_name "$n") port $((5680 + n)): $state"
  done
  for n in "${NODES[@]}"; do
    state=$(zk_mode "$n")
    grep -qxE 'leader|follower' <<<"$state" || all=1
    echo "zk $n port $(zk_port "$n"): $state"
  done
  return $all
}

cmd_kill_node() {  # rabbit|zk N
  local pid
  case "$1" in
    rabbit) pid=$(beam_pid "$2") || die "RabbitMQ $(node_name "$2") is not running" ;;
    zk) pid=$(zk_pid "$2") || die "ZooKeeper server $2 is not running" ;;
  esac
  log "SIGKILL to $1 node $2 (pid $pid)"
  kill -KILL "$pid"
  case "$1" in
    rabbit) wait_until "RabbitMQ $(node_name "$2") to die" not beam_pid "$2" ;;
    zk) wait_until "ZooKeeper server $2 to die" not zk_pid "$2" ;;
  esac
}

cmd_start_node() {  # rabbit|zk N
  case "$1" in
    rabbit) start_rabbit "$2"; wait_rabbit "$2" ;;
    zk) start_zk "$2"; wait_until "ZooKeeper server $2 (leader or follower)" zk_ok "$2" ;;
  esac
}

usage() {
  die "usage: scripts/cluster.sh [--dir DIR] start|stop [--clean]|status|env
       scripts/cluster.sh [--dir DIR] kill-node|start-node rabbit|zk N | ctl N ARGS... | zk-mode N"
}

check_node() {  # kind N
  case "$1" in rabbit|zk) ;; *) usage ;; esac
  case "${2:-}" in 1|2|3) ;; *) die "the node number must be 1, 2 or 3, not '${2:-}'" ;; esac
}

main() {
  local args=()
  while [ $# -gt 0 ]; do  # options anywhere, except among rabbitmqctl's after `ctl N`
    case "$1" in
      --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
      --dir=*) DIR=${1#--dir=}; shift ;;
      --clean) CLEAN=1; shift ;;
      ctl) args+=("$@"); break ;;
      *) args+=("$1"); shift ;;
    esac
  done
  [ ${#args[@]} -ge 1 ] || usage
  set -- "${args[@]}"
  local command=$1; shift
  case "$command" in
    start) [ $# -eq 0 ] || usage; cmd_start ;;
    stop) [ $# -eq 0 ] || usage; cmd_stop ;;
    status) [ $# -eq 0 ] || usage; cmd_status ;;
    env) [ $# -eq 0 ] || usage; settings ;;
    kill-node) [ $# -eq 2 ] || usage; check_node "$@"; cmd_kill_node "$@" ;;
    start-node) [ $# -eq 2 ] || usage; check_node "$@"; cmd_start_node "$@" ;;
    ctl) [ $# -ge 2 ] || usage; check_node rabbit "$1"; ctl "$@" ;;
    zk-mode) [ $# -eq 1 ] || usage; check_node zk "$1"; zk_mode "$1" ;;
    *) usage ;;
  esac
}

main "$@"
