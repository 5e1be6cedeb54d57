#!/usr/bin/env bash
# Private Redis and PostgreSQL instances for tests, the demo and local development.
#
#   scripts/services.sh start          install what is missing, start what REDIS_URL/DATABASE_URL
#                                      do not already provide, write $SERVICES_DIR/env
#   scripts/services.sh stop [--clean] stop what start started (--clean: also delete its data)
#   scripts/services.sh env            print the export lines (eval "$(scripts/services.sh env)")
#   scripts/services.sh status         what runs where
#   scripts/services.sh pg-stop [fast|immediate]   stop the private PostgreSQL (keeps its data)
#   scripts/services.sh pg-start                   start it again, on the same port
#   scripts/services.sh redis-stop / redis-start / redis-restart
#                                      the same for Redis (its data survives through the AOF)
#   scripts/services.sh cluster-start  a 3-master Redis Cluster (no replicas) on three free ports, for
#                                      the cluster tests; adds REDIS_CLUSTER_TEST_NODES to $SERVICES_DIR/env
#                                      (give it to a process as REDIS_CLUSTER_NODES, without REDIS_URL)
#   scripts/services.sh cluster-stop   stop it (stop stops it too; stop --clean deletes its data)
#   scripts/services.sh tools          install the test tools that are missing: Chromium for the
#                                      browser tests (/usr/bin/chromium), promtool for the metrics
#                                      checks (Debian's prometheus package; no daemon is started)
#
# SERVICES_DIR (default .tmp/services) holds one set of instances: their data, logs, state and env
# file. npm test and npm run demo give every run its own directory, so runs never share or stop each
# other's instances. Nothing here needs Docker; when redis-server or the PostgreSQL server binaries
# are missing they are installed from Debian's packages (apt-get, as root or through sudo -n).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${SERVICES_DIR:-$ROOT/.tmp/services}"
STATE_FILE="$SERVICES_DIR/state"
ENV_FILE="$SERVICES_DIR/env"
DB_NAME="${SERVICES_DB_NAME:-outcome_tracker}"

log() { printf '[services] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# ---------------------------------------------------------------------------------------------
# State: what this SERVICES_DIR started, as shell assignments.

REDIS_PORT='' PG_PORT='' PG_BIN='' PG_DATA='' PG_OS_USER='' PG_EXTERNAL_DIR='' CLUSTER_PORTS=''

load_state() {
  if [[ -f $STATE_FILE ]]; then
    # shellcheck disable=SC1090
    source "$STATE_FILE"
  fi
}

save_state() {
  mkdir -p "$SERVICES_DIR"
  {
    printf 'REDIS_PORT=%q\n' "$REDIS_PORT"
    printf 'PG_PORT=%q\n' "$PG_PORT"
    printf 'PG_BIN=%q\n' "$PG_BIN"
    printf 'PG_DATA=%q\n' "$PG_DATA"
    printf 'PG_OS_USER=%q\n' "$PG_OS_USER"
    printf 'PG_EXTERNAL_DIR=%q\n' "$PG_EXTERNAL_DIR"
    printf 'CLUSTER_PORTS=%q\n' "$CLUSTER_PORTS"
  } >"$STATE_FILE.new"
  mv "$STATE_FILE.new" "$STATE_FILE"
}

write_env() {
  {
    echo "# Written by scripts/services.sh for the instances in $SERVICES_DIR"
    if [[ -n $REDIS_PORT ]]; then echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT"; fi
    if [[ -n $PG_PORT ]]; then echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/$DB_NAME"; fi
    # Not REDIS_CLUSTER_NODES: every process started from this environment would use the cluster.
    if [[ -n $CLUSTER_PORTS ]]; then echo "export REDIS_CLUSTER_TEST_NODES=$(cluster_nodes)"; fi
  } >"$ENV_FILE.new"
  mv "$ENV_FILE.new" "$ENV_FILE"
}

# One start/stop at a time per SERVICES_DIR. The daemons are started with fd 9 closed (9>&-): they
# would otherwise inherit it and hold the lock for as long as they run.
take_lock() {
  mkdir -p "$SERVICES_DIR"
  exec 9>"$SERVICES_DIR/.lock"
  flock 9
}

# ---------------------------------------------------------------------------------------------
# Binaries.

find_redis() { command -v redis-server 2>/dev/null || true; }

find_pg_bin() {
  if [[ -n ${PG_BIN_DIR:-} ]]; then
    echo "$PG_BIN_DIR"
    return
  fi
  local d
  # Debian keeps the server binaries off PATH, one directory per major version; take the newest.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x $d/postgres && -x $d/initdb && -x $d/pg_ctl ]]; then
      echo "$d"
      return
    fi
  done
  local initdb
  initdb="$(command -v initdb 2>/dev/null || true)"
  if [[ -n $initdb ]]; then
    d="$(dirname "$(readlink -f "$initdb")")"
    if [[ -x $d/postgres && -x $d/pg_ctl ]]; then echo "$d"; fi
  fi
}

apt_install() {
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      die "need $*: install them (apt-get install -y $*), or set REDIS_URL / DATABASE_URL to running servers"
    fi
  fi
  command -v apt-get >/dev/null || die "need $* but apt-get is not available; install them or set REDIS_URL / DATABASE_URL"
  log "installing $* from Debian packages (first run only)"
  (
    # Keep the packages from starting system-wide daemons (policy-rc.d exit 101 = "not allowed"):
    # we run private instances, and a system Redis on 6379 would outlive us. Only when no policy
    # is in place already (Docker images ship one).
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
      trap '"${sudo[@]}" rm -f "$policy"' EXIT
      printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
      "${sudo[@]}" chmod 755 "$policy"
    fi
    local_apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
    # A broken third-party source makes update fail without making the Debian lists unusable.
    "${local_apt[@]}" update >&2 || log "apt-get update reported errors; trying the install anyway"
    "${local_apt[@]}" install -y --no-install-recommends "$@" >&2
  )
}

ensure_binaries() {
  local need_redis=$1 need_pg=$2 missing=()
  if [[ $need_redis == 1 && -z $(find_redis) ]]; then missing+=(redis-server); fi
  if [[ $need_pg == 1 && -z $(find_pg_bin) ]]; then missing+=(postgresql); fi
  if ((${#missing[@]} > 0)); then
    apt_install "${missing[@]}"
    if [[ $need_redis == 1 && -z $(find_redis) ]]; then die "redis-server still missing after installing"; fi
    if [[ $need_pg == 1 && -z $(find_pg_bin) ]]; then die "PostgreSQL server binaries still missing after installing"; fi
  fi
}

# The test suite's own tools, by binary and the Debian package that ships it.
TOOL_PACKAGES=(/usr/bin/chromium:chromium /usr/bin/promtool:prometheus)

cmd_tools() {
  local missing=() entry
  for entry in "${TOOL_PACKAGES[@]}"; do
    if [[ ! -x ${entry%%:*} ]]; then missing+=("${entry#*:}"); fi
  done
  if ((${#missing[@]} > 0)); then apt_install "${missing[@]}"; fi
  for entry in "${TOOL_PACKAGES[@]}"; do
    [[ -x ${entry%%:*} ]] || die "${entry%%:*} still missing after installing ${entry#*:}"
  done
}

# ---------------------------------------------------------------------------------------------
# Ports.

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local port
  # Let the kernel choose (bind to port 0); a random probe is the fallback.
  port="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})" 2>/dev/null || true)"
  if [[ -z $port ]]; then
    for _ in $(seq 50); do
      port=$((20000 + RANDOM % 40000))
      if ! port_in_use "$port"; then break; fi
    done
  fi
  echo "$port"
}

# ---------------------------------------------------------------------------------------------
# Redis.

redis_dir() { echo "$SERVICES_DIR/redis"; }
redis_pid() { cat "$(redis_dir)/redis.pid" 2>/dev/null || true; }
pid_alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }

# A subshell: a failed connect must not take the script down with it.
redis_ping() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 reply <&3 || exit 1
    [[ $reply == +PONG* ]]
  ) 2>/dev/null
}

redis_running() { pid_alive "$(redis_pid)" && [[ -n $REDIS_PORT ]] && redis_ping "$REDIS_PORT" 2>/dev/null; }

redis_launch() {
  local port=$1 dir
  dir="$(redis_dir)"
  mkdir -p "$dir"
  rm -f "$dir/redis.pid"
  # appendonly: a restart (redis-restart) keeps checkpoints and queues, as a production Redis with
  # AOF would; no RDB snapshots. The AOF is rewritten when it has grown to five times its last
  # rewrite, not twice (Redis's default): each rewrite's child takes a core for a moment, which on
  # two cores sets most of the checkpoint latency's tail (docs/OPERATIONS.md "Persistence").
  # Bound to loopback only.
  "$(find_redis)" --port "$port" --bind 127.0.0.1 --protected-mode yes \
    --dir "$dir" --appendonly yes --appendfsync everysec --save '' --auto-aof-rewrite-percentage 400 \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null 9>&-
  local i
  for i in $(seq 100); do
    if redis_ping "$port" 2>/dev/null; then return 0; fi
    # daemonize: the parent exits at once; the child dies if the port was taken.
    if ((i > 10)) && ! pid_alive "$(redis_pid)"; then break; fi
    sleep 0.1
  done
  return 1
}

redis_start() {
  if redis_running; then return 0; fi
  local port attempt
  for attempt in 1 2 3 4 5; do
    # Keep the old port when possible: URLs handed out before a restart stay valid.
    if [[ -n $REDIS_PORT ]] && ! port_in_use "$REDIS_PORT"; then port=$REDIS_PORT; else port="$(free_port)"; fi
    if redis_launch "$port"; then
      REDIS_PORT=$port
      save_state
      log "redis on 127.0.0.1:$port ($(redis_dir))"
      return 0
    fi
    log "redis did not start on port $port (attempt $attempt), see $(redis_dir)/redis.log"
    REDIS_PORT=''
  done
  tail -n 20 "$(redis_dir)/redis.log" >&2 || true
  die "could not start redis"
}

redis_stop() {
  local pid
  pid="$(redis_pid)"
  if ! pid_alive "$pid"; then return 0; fi
  # SIGTERM: Redis flushes the AOF and exits.
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 100); do
    if ! pid_alive "$pid"; then
      log "redis stopped"
      return 0
    fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  log "redis killed (did not stop within 10 s)"
}

# ---------------------------------------------------------------------------------------------
# Redis Cluster: three masters, no replicas (enough to spread slots over nodes and to see every
# CROSSSLOT mistake; failover is the managed service's business). Each node has its own
# directory, AOF as the single Redis has, and its nodes.conf, so a stopped cluster starts again
# with its slots and data.

cluster_dir() { echo "$SERVICES_DIR/cluster/$1"; }
cluster_pid() { cat "$(cluster_dir "$1")/redis.pid" 2>/dev/null || true; }
cluster_ports() { tr ',' ' ' <<<"$CLUSTER_PORTS"; }
cluster_nodes() {
  local p out=()
  for p in $(cluster_ports); do out+=("127.0.0.1:$p"); done
  (IFS=,; echo "${out[*]}")
}

cluster_node_launch() {
  local port=$1 dir
  dir="$(cluster_dir "$port")"
  mkdir -p "$dir"
  rm -f "$dir/redis.pid"
  "$(find_redis)" --port "$port" --bind 127.0.0.1 --protected-mode yes \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
    --dir "$dir" --appendonly yes --appendfsync everysec --save '' --auto-aof-rewrite-percentage 400 \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null 9>&-
  local i
  for i in $(seq 100); do
    if redis_ping "$port"; then return 0; fi
    if ((i > 10)) && ! pid_alive "$(cluster_pid "$port")"; then break; fi
    sleep 0.1
  done
  tail -n 20 "$dir/redis.log" >&2 || true
  return 1
}

cluster_state_ok() {
  local p
  for p in $(cluster_ports); do
    redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

cluster_start() {
  command -v redis-cli >/dev/null || die "redis-cli is missing (Debian's redis-tools, which redis-server depends on)"
  local fresh=0 p
  if [[ -z $CLUSTER_PORTS ]]; then
    fresh=1
    local ports=()
    while ((${#ports[@]} < 3)); do
      p="$(free_port)"
      if [[ " ${ports[*]} " != *" $p "* ]]; then ports+=("$p"); fi
    done
    CLUSTER_PORTS="$(IFS=,; echo "${ports[*]}")"
  fi
  for p in $(cluster_ports); do
    if ! pid_alive "$(cluster_pid "$p")"; then
      cluster_node_launch "$p" || die "redis cluster node did not start on port $p, see $(cluster_dir "$p")/redis.log"
    fi
  done
  save_state
  if [[ $fresh == 1 ]] || ! cluster_state_ok; then
    if [[ $fresh == 1 ]]; then
      local addrs=()
      for p in $(cluster_ports); do addrs+=("127.0.0.1:$p"); done
      redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$SERVICES_DIR/cluster/create.log" 2>&1 ||
        {
          cat "$SERVICES_DIR/cluster/create.log" >&2
          die "redis-cli --cluster create failed"
        }
    fi
    local i
    for i in $(seq 300); do
      if cluster_state_ok; then break; fi
      sleep 0.1
    done
    cluster_state_ok || die "the redis cluster on ports $CLUSTER_PORTS did not reach cluster_state:ok"
  fi
  log "redis cluster on $(cluster_nodes) ($SERVICES_DIR/cluster)"
}

cluster_stop() {
  local p pid i
  for p in $(cluster_ports); do
    pid="$(cluster_pid "$p")"
    if ! pid_alive "$pid"; then continue; fi
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
      if ! pid_alive "$pid"; then break; fi
      sleep 0.1
    done
    if pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  if [[ -n $CLUSTER_PORTS ]]; then log "redis cluster stopped"; fi
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL.

# PostgreSQL refuses to run as root: as root, run it as the postgres user (created by Debian's
# package) or, lacking that, nobody.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    "$@"
  fi
}

pg_choose_user() {
  if [[ $EUID -ne 0 ]]; then
    PG_OS_USER="$(id -un)"
  elif id postgres >/dev/null 2>&1; then
    PG_OS_USER=postgres
  else
    PG_OS_USER=nobody
  fi
}

# The data directory lives in SERVICES_DIR unless the PostgreSQL user cannot reach it (a checkout
# under /root, say); then in a private directory under /tmp, which stop --clean removes too.
pg_choose_data_dir() {
  local base="$SERVICES_DIR/pg"
  mkdir -p "$base"
  if [[ $EUID -eq 0 ]]; then
    chown "$PG_OS_USER" "$base"
    chmod 700 "$base"
    if ! as_pg test -w "$base"; then
      base="$(mktemp -d "${TMPDIR:-/tmp}/outcome-tracker-pg.XXXXXX")"
      chown "$PG_OS_USER" "$base"
      PG_EXTERNAL_DIR=$base
    fi
  fi
  PG_DATA="$base/data"
}

pg_running() { [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

pg_init() {
  if [[ -s $PG_DATA/PG_VERSION ]]; then return 0; fi
  log "initdb in $PG_DATA (as $PG_OS_USER)"
  # -N: no fsync; a private, throw-away cluster. Trust auth on loopback only.
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C -N >"$(dirname "$PG_DATA")/initdb.log" 2>&1 ||
    {
      cat "$(dirname "$PG_DATA")/initdb.log" >&2
      die "initdb failed"
    }
  # fsync off only: a PostgreSQL crash (pg-stop immediate) loses nothing that was committed, since
  # the operating system still has the writes; an OS crash may, which is fine for a test cluster.
  cat >>"$PG_DATA/postgresql.conf" <<'EOF'

# outcome-tracker private instance (scripts/services.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
max_connections = 300
EOF
}

pg_launch() {
  local port=$1
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$(dirname "$PG_DATA")/postgres.log" -w -t 60 \
    -o "-p $port" start >/dev/null 9>&-
}

pg_create_db() {
  local psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
  if [[ -z $("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ]]; then
    "${psql[@]}" -c "CREATE DATABASE \"$DB_NAME\""
  fi
}

pg_start() {
  if [[ -z $PG_BIN ]]; then PG_BIN="$(find_pg_bin)"; fi
  [[ -n $PG_BIN ]] || die "PostgreSQL server binaries not found"
  if [[ -z $PG_OS_USER ]]; then pg_choose_user; fi
  if [[ -z $PG_DATA ]]; then pg_choose_data_dir; fi
  save_state
  if pg_running; then return 0; fi
  pg_init
  local port attempt
  for attempt in 1 2 3 4 5; do
    if [[ -n $PG_PORT ]] && ! port_in_use "$PG_PORT"; then port=$PG_PORT; else port="$(free_port)"; fi
    if pg_launch "$port"; then
      PG_PORT=$port
      save_state
      pg_create_db
      log "postgres on 127.0.0.1:$port ($PG_DATA, as $PG_OS_USER)"
      return 0
    fi
    log "postgres did not start on port $port (attempt $attempt)"
    PG_PORT=''
  done
  tail -n 30 "$(dirname "$PG_DATA")/postgres.log" >&2 || true
  die "could not start postgres"
}

pg_stop() {
  local mode=${1:-fast}
  if [[ -z $PG_DATA || -z $PG_BIN ]] || ! pg_running; then return 0; fi
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m "$mode" -w -t 60 stop >/dev/null
  log "postgres stopped ($mode)"
}

# ---------------------------------------------------------------------------------------------
# Commands.

cmd_start() {
  take_lock
  load_state
  local need_redis=0 need_pg=0
  # Only what the environment does not already provide. A URL recorded in our own state means we
  # started it earlier (the caller may have sourced our env file): keep managing it.
  if [[ -z ${REDIS_URL:-} || -n $REDIS_PORT ]]; then need_redis=1; fi
  if [[ -z ${DATABASE_URL:-} || -n $PG_PORT ]]; then need_pg=1; fi
  ensure_binaries "$need_redis" "$need_pg"
  if [[ $need_redis == 1 ]]; then redis_start; fi
  if [[ $need_pg == 1 ]]; then pg_start; fi
  write_env
}

cmd_stop() {
  local clean=0
  if [[ ${1:-} == --clean ]]; then clean=1; fi
  if [[ ! -d $SERVICES_DIR ]]; then return 0; fi
  take_lock
  load_state
  redis_stop
  cluster_stop
  pg_stop fast
  if [[ $clean == 1 ]]; then
    if [[ -n $PG_EXTERNAL_DIR && -d $PG_EXTERNAL_DIR ]]; then rm -rf "$PG_EXTERNAL_DIR"; fi
    # The lock file goes with the directory; holders of fd 9 are unaffected.
    rm -rf "$SERVICES_DIR"
  else
    write_env
  fi
}

cmd_env() {
  [[ -f $ENV_FILE ]] || die "no services started in $SERVICES_DIR (run scripts/services.sh start)"
  cat "$ENV_FILE"
}

cmd_status() {
  load_state
  if [[ -n $REDIS_PORT ]]; then
    if redis_running; then echo "redis: running on 127.0.0.1:$REDIS_PORT"; else echo "redis: stopped (port $REDIS_PORT)"; fi
  else
    echo "redis: not managed here"
  fi
  if [[ -n $PG_PORT ]]; then
    if pg_running; then echo "postgres: running on 127.0.0.1:$PG_PORT ($PG_DATA)"; else echo "postgres: stopped (port $PG_PORT)"; fi
  else
    echo "postgres: not managed here"
  fi
  if [[ -n $CLUSTER_PORTS ]]; then
    if cluster_state_ok; then echo "redis cluster: running on $(cluster_nodes)"; else echo "redis cluster: stopped or not ok (ports $CLUSTER_PORTS)"; fi
  fi
}

require_managed() {
  load_state
  case $1 in
    redis) [[ -n $REDIS_PORT ]] || die "redis in $SERVICES_DIR is not managed by this script (REDIS_URL given?)" ;;
    pg) [[ -n $PG_PORT ]] || die "postgres in $SERVICES_DIR is not managed by this script (DATABASE_URL given?)" ;;
  esac
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    start) cmd_start ;;
    stop) cmd_stop "$@" ;;
    env) cmd_env ;;
    status) cmd_status ;;
    tools) cmd_tools ;;
    cluster-start)
      take_lock
      load_state
      ensure_binaries 1 0
      cluster_start
      write_env
      ;;
    cluster-stop)
      take_lock
      load_state
      cluster_stop
      ;;
    pg-stop)
      take_lock
      require_managed pg
      pg_stop "${1:-fast}"
      ;;
    pg-start)
      take_lock
      require_managed pg
      pg_start
      ;;
    redis-stop)
      take_lock
      require_managed redis
      redis_stop
      ;;
    redis-start)
      take_lock
      require_managed redis
      redis_start
      ;;
    redis-restart)
      take_lock
      require_managed redis
      redis_stop
      redis_start
      ;;
    *)
      sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
}

main "$@"
