#!/usr/bin/env bash
# A private RabbitMQ node beside the shared local one (rabbit@localhost on 5672).
#
# Why: `npm run chaos` restarts the broker (stop_app / start_app) again and again; on the shared node
# that cuts off everything else using it (test suites, other runs). This starts a second node with its
# own port, data, logs and config and no plugins, which a chaos run may restart alone:
#
#   scripts/rabbitmq-node.sh start chaos@localhost 5673
#   AMQP_URL=amqp://guest:guest@127.0.0.1:5673 npm run chaos -- --rabbitmq-node chaos@localhost
#   scripts/rabbitmq-node.sh stop chaos@localhost
#
# NAME is a node name (`chaos` means chaos@localhost); everything of the node lives under
# /tmp/rabbit-<short name>. Both commands are idempotent. Its Erlang distribution port is PORT + 20000.
# With the Debian package run it as root or as rabbitmq: the node runs as the rabbitmq user and shares
# that user's Erlang cookie, so `rabbitmqctl -n NAME ...` reaches it. guest/guest may log in from
# 127.0.0.1 (the default loopback_users).
set -euo pipefail

usage() {
  echo "usage: $0 start NAME PORT | stop NAME   (e.g. start chaos@localhost 5673)" >&2
  exit 2
}

# The node name, `short@host` (a bare `short` means short@localhost); refuses the shared node's name.
node_name() {
  local name=$1
  [[ $name == *@* ]] || name="$name@localhost"
  if ! [[ $name =~ ^[A-Za-z0-9_-]+@[A-Za-z0-9.-]+$ ]]; then
    echo "$0: bad node name '$1' (expected e.g. chaos@localhost)" >&2
    exit 2
  fi
  if [[ ${name%@*} == rabbit ]]; then
    echo "$0: '$name' is the default (shared) node's name: pick another, e.g. chaos@localhost" >&2
    exit 2
  fi
  echo "$name"
}

ctl() { rabbitmqctl --quiet -n "$NODE" "$@"; }
# The Erlang node answers (the RabbitMQ application may be stopped).
node_answers() { ctl ping --timeout 10 >/dev/null 2>&1; }
# The RabbitMQ application runs on it.
app_runs() { rabbitmq-diagnostics --quiet -n "$NODE" check_running >/dev/null 2>&1; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The Debian wrapper /usr/sbin/rabbitmq-server, run by the rabbitmq user itself, sends the output to the
# shared node's /var/log/rabbitmq/startup_log: that user calls the real script instead.
server() {
  if [[ $(id -un) == rabbitmq && -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
    /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
  else
    rabbitmq-server "$@"
  fi
}

start() {
  local port=$1
  if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1024 || port > 45535)); then
    echo "$0: PORT must be a number in 1024..45535 (its distribution port is PORT + 20000), got '$port'" >&2
    exit 2
  fi
  if node_answers; then
    if ! grep -qs ":$port\$" "$BASE/rabbitmq.conf"; then
      echo "$0: $NODE is already running, but not on port $port: $(cat "$BASE/rabbitmq.conf" 2>/dev/null || echo 'unknown config') (stop it first to move it)" >&2
      exit 1
    fi
    if app_runs; then
      echo "$NODE is already running (data in $BASE)"
    else
      # Left stopped by an interrupted stop_app (e.g. a chaos run killed mid-restart).
      echo "$NODE answers but its RabbitMQ application is stopped: starting it"
      ctl start_app
      ctl await_startup --timeout 120
    fi
    return
  fi
  local dist=$((port + 20000))
  for taken in "$port" "$dist"; do
    if port_taken "$taken"; then
      echo "$0: port $taken on 127.0.0.1 is already in use (not by $NODE)" >&2
      exit 1
    fi
  done

  mkdir -p "$BASE/mnesia" "$BASE/log"
  # listeners.tcp.local overrides /etc/rabbitmq/rabbitmq.conf's 5672: this file replaces that one.
  cat >"$BASE/rabbitmq.conf" <<EOF
listeners.tcp.local = 127.0.0.1:$port
EOF
  echo '[].' >"$BASE/enabled_plugins"
  # Replaces /etc/rabbitmq/rabbitmq-env.conf (which names the shared node): everything of this node.
  cat >"$BASE/rabbitmq-env.conf" <<EOF
NODENAME=$NODE
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=$port
DIST_PORT=$dist
CONFIG_FILE=$BASE/rabbitmq.conf
ADVANCED_CONFIG_FILE=$BASE/advanced.config
ENABLED_PLUGINS_FILE=$BASE/enabled_plugins
MNESIA_BASE=$BASE/mnesia
LOG_BASE=$BASE/log
PID_FILE=$BASE/$SHORT.pid
ERL_EPMD_ADDRESS=127.0.0.1
export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
  # The Debian node runs as the rabbitmq user (its wrapper switches to it): that user owns the data.
  if [[ $(id -u) == 0 ]] && id rabbitmq >/dev/null 2>&1; then chown -R rabbitmq:rabbitmq "$BASE"; fi

  echo "starting $NODE on 127.0.0.1:$port (distribution port $dist, data and logs in $BASE)"
  (
    export RABBITMQ_CONF_ENV_FILE="$BASE/rabbitmq-env.conf"
    # The same again as environment variables, which take precedence wherever the file might not.
    export RABBITMQ_NODENAME="$NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist"
    export RABBITMQ_CONFIG_FILE="$BASE/rabbitmq.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$BASE/advanced.config"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$BASE/enabled_plugins" RABBITMQ_MNESIA_BASE="$BASE/mnesia" RABBITMQ_LOG_BASE="$BASE/log"
    export RABBITMQ_PID_FILE="$BASE/$SHORT.pid"
    server -detached
  )
  # -detached returns at once: wait for the node to register, then for the application to start.
  local deadline=$((SECONDS + 60))
  until node_answers; do
    if ((SECONDS > deadline)); then
      echo "$0: $NODE did not come up within 60 s; see $BASE/log" >&2
      exit 1
    fi
    sleep 1
  done
  ctl await_startup --timeout 120
  echo "$NODE is up: AMQP_URL=amqp://guest:guest@127.0.0.1:$port"
}

stop() {
  if ! node_answers; then
    echo "$NODE is not running"
    return
  fi
  # With the pid file: returns once the OS process is gone.
  if [[ -f "$BASE/$SHORT.pid" ]]; then ctl stop "$BASE/$SHORT.pid"; else ctl stop; fi
  echo "$NODE stopped (data kept in $BASE)"
}

[[ $# -ge 2 ]] || usage
COMMAND=$1
NODE=$(node_name "$2")
SHORT=${NODE%@*}
BASE=/tmp/rabbit-$SHORT
case $COMMAND in
  start)
    [[ $# -eq 3 ]] || usage
    start "$3"
    ;;
  stop)
    [[ $# -eq 2 ]] || usage
    stop
    ;;
  *) usage ;;
esac
