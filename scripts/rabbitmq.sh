#!/usr/bin/env bash
# Run a real RabbitMQ (Debian's rabbitmq-server) on 127.0.0.1:5672 for tests
# and local use.
#
#   scripts/rabbitmq.sh install        apt-get install rabbitmq-server, loopback-only config
#   scripts/rabbitmq.sh start          start the node; last stdout line = the AMQP URL
#   scripts/rabbitmq.sh pause [--hard] stop the broker app (AMQP port closes, node stays);
#                                      --hard = SIGKILL the whole Erlang node
#   scripts/rabbitmq.sh resume         bring it back on the same address, same data
#   scripts/rabbitmq.sh stop           stop the node and its epmd
#   scripts/rabbitmq.sh restart        pause + resume
#   scripts/rabbitmq.sh address        print the AMQP URL
#   scripts/rabbitmq.sh status         running/paused/stopped; exit 0 only if 5672 accepts
#
# Must run as root (apt-get, and the Debian wrappers switch to the rabbitmq
# user themselves). Queues and messages live in /var/lib/rabbitmq and survive
# stop/start; the URL is fixed: amqp://guest:guest@127.0.0.1:5672/%2f
# (guest may only log in over loopback, which is all we listen on).
#
# Environment:
#   SCOUTER_BROKER_STATE     runtime state (default /tmp/scouter-queue-brokers)
#   SCOUTER_RABBITMQ_TIMEOUT start timeout, s (default 60)
set -euo pipefail

AMQP_PORT=5672
EPMD_PORT=4369
ADDRESS="amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f"
ENV_CONF=/etc/rabbitmq/rabbitmq-env.conf

STATE_ROOT="${SCOUTER_BROKER_STATE:-/tmp/scouter-queue-brokers}"
STATE_DIR="$STATE_ROOT/rabbitmq"
PID_FILE="$STATE_DIR/pid"         # the Erlang VM (beam.smp) running the node
PAUSED_FILE="$STATE_DIR/paused"
START_TIMEOUT="${SCOUTER_RABBITMQ_TIMEOUT:-60}"

log() { echo "rabbitmq.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- install

# Without the last two settings epmd (4369) and the Erlang distribution port
# (25672) listen on every interface; NODE_IP_ADDRESS only covers AMQP.
# CTL_ERL_ARGS does the same for the short-lived rabbitmqctl nodes.
ENV_CONF_TEXT='# Written by scouter-queue scripts/rabbitmq.sh: every listener on loopback.
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=5672
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export ERL_EPMD_ADDRESS=127.0.0.1'

write_env_conf() {
  if [[ -f "$ENV_CONF" && "$(<"$ENV_CONF")" == "$ENV_CONF_TEXT" ]]; then
    return 0
  fi
  mkdir -p "$(dirname "$ENV_CONF")"
  printf '%s\n' "$ENV_CONF_TEXT" >"$ENV_CONF"
  log "wrote $ENV_CONF"
}

cmd_install() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  if ! command -v rabbitmq-server >/dev/null || ! command -v rabbitmqctl >/dev/null; then
    # Only refresh the package lists when apt does not know the package yet
    # (a fresh machine): 'apt-get update' costs several seconds.
    if ! apt-cache policy rabbitmq-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      log "apt-get update"
      apt-get update -qq >&2
    fi
    log "apt-get install rabbitmq-server"
    # confold: keep our rabbitmq-env.conf if the package is ever reinstalled.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confold rabbitmq-server >&2
  fi
  write_env_conf
}

# ---------------------------------------------------------------- helpers

port_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Same as in kafka.sh: alive and not a zombie (a SIGKILLed VM's main thread
# is a zombie while its other threads still hold the sockets).
proc_alive() {
  local state tasks
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n "$state" ]] || return 1
  [[ "$state" != Z && "$state" != X ]] && return 0
  tasks=("/proc/$1/task"/*)
  (( ${#tasks[@]} > 1 ))
}

# Pid of the running node's Erlang VM; the comm check keeps a recycled pid
# from being taken for (or killed as) RabbitMQ.
node_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid=$(<"$PID_FILE")
  [[ -n "$pid" ]] && proc_alive "$pid" || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == beam* ]] || return 1
  echo "$pid"
}

# rabbitmqctl quietly, with an upper bound so a wedged node cannot hang us.
ctl() { timeout 30 rabbitmqctl -q "$@" 9>&-; }

wait_until() {
  local what="$1"; shift
  local deadline=$(( SECONDS + START_TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "$what not reached after ${START_TIMEOUT}s (see /var/log/rabbitmq/)"
    sleep 0.5
  done
}

# Pid of whatever listens on $1 (empty if nothing), from ss's users:(...) field.
listener_pid() {
  ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

wait_dead() {
  local pid="$1"
  for _ in $(seq 1 300); do
    proc_alive "$pid" || return 0
    sleep 0.1
  done
  log "pid $pid still alive after 30 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  while proc_alive "$pid"; do sleep 0.1; done
}

# ---------------------------------------------------------------- commands

start_node() {
  log "starting rabbitmq-server"
  # -detached returns at once; readiness is polled below. 9>&- keeps our
  # lock fd out of the long-lived Erlang processes.
  rabbitmq-server -detached 9>&- >&2
  # 'status' answers as soon as the VM is up; await_startup waits for the
  # rabbit application (and thus the AMQP listener) to finish booting.
  wait_until "rabbitmqctl status" ctl status
  wait_until "rabbit app startup" ctl await_startup
  # The VM's pid lets pause/stop/status work without a ~1 s rabbitmqctl call.
  ctl eval 'list_to_integer(os:getpid()).' | tr -dc '0-9' >"$PID_FILE"
}

cmd_start() {
  cmd_install
  mkdir -p "$STATE_DIR"
  if node_pid >/dev/null && ! port_listening "$AMQP_PORT"; then
    cmd_resume   # paused (or app stopped by hand): start_app is enough
    return 0
  fi
  node_pid >/dev/null || start_node
  wait_until "port $AMQP_PORT" port_listening "$AMQP_PORT"
  rm -f "$PAUSED_FILE"
  echo "$ADDRESS"
}

cmd_pause() {
  node_pid >/dev/null || die "rabbitmq is not running"
  if [[ "${1:-}" == "--hard" ]]; then
    local pid; pid=$(node_pid)
    kill -KILL "$pid"
    wait_dead "$pid"
  else
    # stop_app closes the listeners and every client connection but keeps
    # the Erlang node up, so resume is a quick start_app.
    ctl stop_app
  fi
  touch "$PAUSED_FILE"
  log "paused"
}

cmd_resume() {
  mkdir -p "$STATE_DIR"
  if node_pid >/dev/null; then
    ctl start_app
  else
    start_node   # after 'pause --hard' (or a crash) the node itself is gone
  fi
  wait_until "port $AMQP_PORT" port_listening "$AMQP_PORT"
  rm -f "$PAUSED_FILE"
  echo "$ADDRESS"
}

cmd_stop() {
  local pid epmd
  if pid=$(node_pid); then
    ctl stop || true
    wait_dead "$pid"
  elif ctl status >/dev/null 2>&1; then
    ctl stop || true   # a node this script did not start (no pid file)
  fi
  # rabbitmqctl stop leaves epmd running; end it by its pid, checking it is
  # really epmd and not another program on that port.
  epmd=$(listener_pid "$EPMD_PORT")
  if [[ -n "$epmd" && "$(cat "/proc/$epmd/comm" 2>/dev/null)" == epmd ]]; then
    kill -TERM "$epmd" 2>/dev/null || true
    wait_dead "$epmd"
  fi
  rm -rf "$STATE_DIR"
  log "stopped"
}

cmd_address() {
  [[ -d "$STATE_DIR" ]] || die "rabbitmq is not started"
  echo "$ADDRESS"
}

cmd_status() {
  if node_pid >/dev/null; then
    if port_listening "$AMQP_PORT"; then
      echo "running $ADDRESS"
      return 0
    fi
    if [[ -f "$PAUSED_FILE" ]]; then echo "paused $ADDRESS"; else echo "starting $ADDRESS"; fi
  elif [[ -f "$PAUSED_FILE" ]]; then
    echo "paused $ADDRESS"
  else
    echo "stopped"
  fi
  return 1
}

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

main() {
  local cmd="${1:-}"
  [[ -n "$cmd" ]] || usage
  shift
  mkdir -p "$STATE_ROOT"
  # One command at a time: parallel test files may all call 'start'.
  exec 9>"$STATE_ROOT/rabbitmq.lock"
  flock 9
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    pause) cmd_pause "$@" ;;
    resume) cmd_resume ;;
    restart) cmd_pause && cmd_resume ;;
    address) cmd_address ;;
    status) cmd_status ;;
    *) usage ;;
  esac
}

main "$@"
