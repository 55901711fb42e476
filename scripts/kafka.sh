#!/usr/bin/env bash
# Run a real single-node Apache Kafka (KRaft, combined broker+controller) on
# 127.0.0.1 for tests and local use.
#
#   scripts/kafka.sh install        fetch the broker jars from Maven Central (once)
#   scripts/kafka.sh start          start a fresh broker; last stdout line = 127.0.0.1:PORT
#   scripts/kafka.sh pause [--hard] stop the process, keep port + data (--hard = SIGKILL)
#   scripts/kafka.sh resume         start it again on the same port with the same data
#   scripts/kafka.sh stop [--keep-data]
#                                   stop and delete the state (--keep-data = pause)
#   scripts/kafka.sh restart        pause + resume
#   scripts/kafka.sh address        print the bootstrap address (running or paused)
#   scripts/kafka.sh sasl-address   the same broker's SASL/PLAIN listener (user scouter, password scouter-secret)
#   scripts/kafka.sh status         running/paused/stopped; exit 0 only if it serves metadata
#
# Kafka is not packaged by Debian and this machine reaches only package
# registries, so the broker is assembled from its Maven artifacts
# (org.apache.kafka:kafka_2.13 + runtime dependencies) and run via its main
# classes (kafka.tools.StorageTool, kafka.Kafka) instead of the tarball's bin/*.sh.
#
# Environment:
#   SCOUTER_BROKER_HOME   jar cache root   (default ~/.cache/scouter-queue/brokers)
#   SCOUTER_BROKER_STATE  runtime state    (default /tmp/scouter-queue-brokers)
#   SCOUTER_KAFKA_VERSION Kafka version    (default 4.4.0)
#   SCOUTER_KAFKA_HEAP    max heap         (default 512m)
#   SCOUTER_KAFKA_TIMEOUT start timeout, s (default 60)
set -euo pipefail

KAFKA_VERSION="${SCOUTER_KAFKA_VERSION:-4.4.0}"
# Pinned so a fresh machine resolves the same plugin every time.
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

CACHE_DIR="${SCOUTER_BROKER_HOME:-${HOME:-/root}/.cache/scouter-queue/brokers}/kafka/$KAFKA_VERSION"
LIB_DIR="$CACHE_DIR/libs"
STATE_ROOT="${SCOUTER_BROKER_STATE:-/tmp/scouter-queue-brokers}"
STATE_DIR="$STATE_ROOT/kafka"
DATA_DIR="$STATE_DIR/data"
CONF="$STATE_DIR/server.properties"
LOG4J_CONF="$STATE_DIR/log4j2.properties"
LOG_FILE="$STATE_DIR/kafka.log"
PID_FILE="$STATE_DIR/pid"
PORT_FILE="$STATE_DIR/port"
CONTROLLER_PORT_FILE="$STATE_DIR/controller.port"
ADDR_FILE="$STATE_DIR/address"
SASL_ADDR_FILE="$STATE_DIR/sasl.address"
PAUSED_FILE="$STATE_DIR/paused"

HEAP="${SCOUTER_KAFKA_HEAP:-512m}"
START_TIMEOUT="${SCOUTER_KAFKA_TIMEOUT:-60}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

log() { echo "kafka.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- install

write_pom() {
  # A throwaway pom whose only purpose is to let Maven resolve the broker's
  # runtime classpath. log4j-slf4j-impl is added because kafka_2.13's pom
  # brings slf4j-api 1.7 and log4j-core but no binding between them, which
  # would silence every broker log line (bad when a start fails).
  cat >"$CACHE_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.scouter-queue</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>2.25.5</version>
    </dependency>
  </dependencies>
</project>
EOF
}

cmd_install() {
  # The marker is written only after a complete copy, so an interrupted
  # install is retried instead of leaving a half classpath behind.
  if [[ -f "$LIB_DIR/.complete" ]]; then
    log "kafka $KAFKA_VERSION already installed in $LIB_DIR"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (needed to fetch Kafka from Maven Central)"
  command -v "$JAVA" >/dev/null || die "java not found"
  mkdir -p "$CACHE_DIR"
  write_pom
  local tmp="$LIB_DIR.tmp.$$"
  rm -rf "$tmp"
  log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and dependencies ..."
  if ! mvn -B -q -f "$CACHE_DIR/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
         -DincludeScope=runtime -DoutputDirectory="$tmp" >"$CACHE_DIR/mvn.log" 2>&1; then
    tail -n 30 "$CACHE_DIR/mvn.log" >&2
    rm -rf "$tmp"
    die "maven could not fetch Kafka (full log: $CACHE_DIR/mvn.log)"
  fi
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after maven run"
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  touch "$LIB_DIR/.complete"
  local jars=("$LIB_DIR"/*.jar)
  log "installed ${#jars[@]} jars into $LIB_DIR"
}

# ---------------------------------------------------------------- helpers

# True if something accepts TCP connections on 127.0.0.1:$1.
port_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nobody listens on, chosen below the kernel's ephemeral range so that
# outgoing client sockets cannot grab it while the broker is paused.
pick_port() {
  local avoid="${1:-0}" low hi p
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  hi=$(( low > 20001 ? low - 1 : 32767 ))
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % (hi - 20000) ))
    [[ "$p" != "$avoid" ]] && ! port_listening "$p" && { echo "$p"; return 0; }
  done
  die "no free port found"
}

# True if pid $1 is still running. 'kill -0' is not enough: it succeeds on a
# zombie too, and after SIGKILL the JVM's main thread turns zombie while its
# other threads (holding the listening sockets) are still being torn down.
proc_alive() {
  local state tasks
  # Field 3 of /proc/PID/stat, read after the ")" that closes the name.
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n "$state" ]] || return 1
  [[ "$state" != Z && "$state" != X ]] && return 0
  tasks=("/proc/$1/task"/*)
  (( ${#tasks[@]} > 1 ))
}

# Pid of our broker if it is alive. Checks the command line too, so a
# recycled pid of an unrelated process is never mistaken for (or killed as) Kafka.
live_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid=$(<"$PID_FILE")
  [[ -n "$pid" ]] && proc_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

java_run() {
  # -cp 'dir/*' is expanded by the JVM itself, not the shell.
  "$JAVA" -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J_CONF" \
    -cp "$LIB_DIR/*" "$@"
}

# Send ApiVersions, then a Metadata request, and succeed once the broker lists
# at least one live broker: an open port alone does not mean clients can work.
# Needs node (the project's runtime); without it we fall back to the port check.
PROBE_JS='
const net = require("net");
const host = process.argv[1], port = Number(process.argv[2]);
const fail = (m) => { console.error(m); process.exit(1); };
setTimeout(() => fail("timeout"), 3000).unref();
const sock = net.connect({ host, port });
sock.on("error", (e) => fail(e.code || e.message));
let buf = Buffer.alloc(0); const waiters = [];
sock.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
    const n = buf.readInt32BE(0);
    const frame = buf.subarray(4, 4 + n); buf = buf.subarray(4 + n);
    waiters.shift()(frame);
  }
});
function call(apiKey, version, corr, body) {
  return new Promise((resolve) => {
    waiters.push(resolve);
    const id = Buffer.from("scouter-probe");
    const hdr = Buffer.alloc(10);
    hdr.writeInt16BE(apiKey, 0); hdr.writeInt16BE(version, 2);
    hdr.writeInt32BE(corr, 4); hdr.writeInt16BE(id.length, 8);
    const payload = Buffer.concat([hdr, id, body]);
    const size = Buffer.alloc(4); size.writeInt32BE(payload.length, 0);
    sock.write(Buffer.concat([size, payload]));
  });
}
sock.on("connect", async () => {
  let f = await call(18, 0, 1, Buffer.alloc(0));       // ApiVersions v0
  let off = 4;
  const err = f.readInt16BE(off); off += 2;
  if (err !== 0) fail("ApiVersions error " + err);
  const n = f.readInt32BE(off); off += 4;
  let meta = null;
  for (let i = 0; i < n; i++, off += 6)
    if (f.readInt16BE(off) === 3) meta = [f.readInt16BE(off + 2), f.readInt16BE(off + 4)];
  const v = meta ? Math.max(meta[0], 4) : -1;            // v4..v8: non-flexible encoding
  if (!meta || v > Math.min(meta[1], 8)) { console.log("api-versions ok"); process.exit(0); }
  const body = Buffer.alloc(v >= 8 ? 7 : 5);             // topics=[] , no auto-create
  f = await call(3, v, 2, body);
  const brokers = f.readInt32BE(8);                      // after correlation id + throttle
  if (brokers < 1) fail("metadata lists no broker yet");
  console.log("metadata ok, brokers=" + brokers + ", Metadata v" + v);
  process.exit(0);
});
'

broker_ready() {
  local port="$1"
  if command -v node >/dev/null; then
    node -e "$PROBE_JS" 127.0.0.1 "$port" >/dev/null 2>&1
  else
    port_listening "$port"
  fi
}

# ---------------------------------------------------------------- config

write_config() {
  local port="$1" cport="$2" sport="$3"
  cat >"$CONF" <<EOF
# Generated by scripts/kafka.sh: one KRaft node that is broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
controller.listener.names=CONTROLLER
# Loopback only, for both the client and the controller listener.
listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sport
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
# A second listener that wants a SASL/PLAIN login, for tests of client credentials.
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_scouter="scouter-secret";
log.dirs=$DATA_DIR

# A single node can only satisfy replication factor 1 / min ISR 1.
auto.create.topics.enable=true
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer internal partitions: the first consumer group / transaction is ready
# in well under a second instead of creating 50 partitions on 2 cores.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1
# Tests should not wait 3 s for the first group rebalance.
group.initial.rebalance.delay.ms=0
# After a SIGKILL ('pause --hard') the restarted broker is refused
# (DuplicateBrokerRegistration) until its old session expires: 9 s by
# default, 4 s here. Heartbeats stay local to this one JVM, so a shorter
# session does not risk spurious fencing.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000
EOF
  cat >"$LOG4J_CONF" <<'EOF'
# Broker logs go to stdout, which scripts/kafka.sh redirects to kafka.log.
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

# Kafka's cluster id is a base64url-encoded 16-byte UUID without padding.
random_cluster_id() {
  head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

format_storage() {
  local id; id=$(random_cluster_id)
  log "formatting $DATA_DIR (cluster id $id)"
  java_run -Xmx256m kafka.tools.StorageTool format -t "$id" -c "$CONF" >>"$LOG_FILE" 2>&1 \
    || { tail -n 20 "$LOG_FILE" >&2; die "storage format failed"; }
}

# ---------------------------------------------------------------- process

launch() {
  local port; port=$(<"$PORT_FILE")
  # Allow up to 10 s for the previous incarnation's sockets to go away.
  for _ in $(seq 1 50); do
    port_listening "$port" || break
    sleep 0.2
  done
  if port_listening "$port"; then
    die "port $port is taken by another process; 'stop' and 'start' for a new port"
  fi
  echo "---- launch $(date -Is)" >>"$LOG_FILE"
  # setsid: the broker must outlive this script and not receive a Ctrl-C
  # aimed at the test runner's process group. 9>&- drops the lock fd so the
  # broker does not hold our lock for its whole life.
  setsid "$JAVA" -Xms256m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_CONF" \
    -cp "$LIB_DIR/*" kafka.Kafka "$CONF" \
    </dev/null >>"$LOG_FILE" 2>&1 9>&- &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid" "$port"
}

wait_ready() {
  local pid="$1" port="$2" deadline=$(( SECONDS + START_TIMEOUT ))
  while (( SECONDS < deadline )); do
    # proc_alive, not live_pid: right after the fork the child may not have
    # exec'd java yet, so its command line is still this script's.
    if ! proc_alive "$pid"; then
      tail -n 30 "$LOG_FILE" >&2
      die "broker exited during startup (log: $LOG_FILE)"
    fi
    if broker_ready "$port"; then
      return 0
    fi
    sleep 0.5
  done
  tail -n 30 "$LOG_FILE" >&2
  terminate KILL   # do not leave a half-started broker holding the port
  die "broker not ready after ${START_TIMEOUT}s (log: $LOG_FILE)"
}

# SIGTERM lets Kafka flush and write its clean-shutdown marker (fast resume);
# SIGKILL after 30 s so a wedged broker cannot hang a test run.
terminate() {
  local sig="${1:-TERM}" pid
  pid=$(live_pid) || return 0
  kill -"$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    proc_alive "$pid" || return 0
    sleep 0.1
  done
  log "broker $pid ignored SIGTERM for 30 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  while proc_alive "$pid"; do sleep 0.1; done
}

# ---------------------------------------------------------------- commands

cmd_start() {
  if live_pid >/dev/null && [[ ! -f "$SASL_ADDR_FILE" ]]; then
    log "the running broker was started without the SASL listener; starting a fresh one"
    terminate TERM
    rm -f "$PAUSED_FILE"
  fi
  if live_pid >/dev/null; then
    cat "$ADDR_FILE"
    return 0
  fi
  if [[ -f "$PAUSED_FILE" && -f "$SASL_ADDR_FILE" ]]; then
    log "broker is paused; resuming it"
    cmd_resume
    return 0
  fi
  cmd_install
  # Leftovers of a crashed run (dead pid, not paused) are discarded.
  rm -rf "$STATE_DIR"
  mkdir -p "$DATA_DIR"
  local port cport sport
  port=$(pick_port)
  cport=$(pick_port "$port")
  sport=$(pick_port "$port")
  while [[ "$sport" == "$cport" ]]; do sport=$(pick_port "$port"); done
  echo "$port" >"$PORT_FILE"
  echo "$cport" >"$CONTROLLER_PORT_FILE"
  echo "127.0.0.1:$port" >"$ADDR_FILE"
  echo "127.0.0.1:$sport" >"$SASL_ADDR_FILE"
  write_config "$port" "$cport" "$sport"
  format_storage
  log "starting kafka $KAFKA_VERSION on 127.0.0.1:$port (controller $cport)"
  launch
  cat "$ADDR_FILE"
}

cmd_pause() {
  [[ -f "$ADDR_FILE" ]] || die "no broker state; run 'start' first"
  if [[ "${1:-}" == "--hard" ]]; then
    terminate KILL
  else
    terminate TERM
  fi
  touch "$PAUSED_FILE"
  log "paused (address $(<"$ADDR_FILE") kept)"
}

cmd_resume() {
  [[ -f "$CONF" && -f "$ADDR_FILE" ]] || die "no paused broker; run 'start' first"
  if live_pid >/dev/null; then
    cat "$ADDR_FILE"
    return 0
  fi
  cmd_install
  log "resuming on $(<"$ADDR_FILE")"
  launch
  rm -f "$PAUSED_FILE"
  cat "$ADDR_FILE"
}

cmd_stop() {
  if [[ "${1:-}" == "--keep-data" ]]; then
    cmd_pause
    return 0
  fi
  terminate TERM
  rm -rf "$STATE_DIR"
  log "stopped"
}

cmd_address() {
  [[ -f "$ADDR_FILE" ]] || die "kafka is not started"
  cat "$ADDR_FILE"
}

cmd_sasl_address() {
  [[ -f "$SASL_ADDR_FILE" ]] || die "kafka is not started"
  cat "$SASL_ADDR_FILE"
}

cmd_status() {
  if live_pid >/dev/null; then
    if broker_ready "$(<"$PORT_FILE")"; then
      echo "running $(<"$ADDR_FILE")"
      return 0
    fi
    echo "starting $(<"$ADDR_FILE")"
  elif [[ -f "$PAUSED_FILE" ]]; then
    echo "paused $(<"$ADDR_FILE")"
  else
    echo "stopped"
  fi
  return 1
}

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

main() {
  local cmd="${1:-}"
  [[ -n "$cmd" ]] || usage
  shift
  mkdir -p "$STATE_ROOT"
  # One command at a time: parallel test files may all call 'start'.
  exec 9>"$STATE_ROOT/kafka.lock"
  flock 9
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop "$@" ;;
    pause) cmd_pause "$@" ;;
    resume) cmd_resume ;;
    restart) cmd_pause && cmd_resume ;;
    address) cmd_address ;;
    sasl-address) cmd_sasl_address ;;
    status) cmd_status ;;
    *) usage ;;
  esac
}

main "$@"
