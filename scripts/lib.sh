# Shared by scripts/test.sh and scripts/demo.sh (sourced, not run).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# With the seconds since the script started: set-up time shows in every log.
say() { printf '\n==> [%ss] %s\n' "$SECONDS" "$*" >&2; }

# npm packages: a fresh clone has no node_modules. Only `npm ci`: it installs exactly what
# package-lock.json names or fails. A lock file out of step with package.json is a bug to fix in
# the repository (`npm install --package-lock-only`), not something to paper over with
# `npm install` on one machine.
ensure_node_modules() {
  if [[ -d node_modules && -x node_modules/.bin/vitest ]]; then return 0; fi
  say "installing npm packages (npm ci)"
  local log="${TMPDIR:-/tmp}/outcome-tracker-npm-ci-$$.log"
  if npm ci --no-audit --no-fund >"$log" 2>&1; then
    rm -f "$log"
    return 0
  fi
  grep -m 10 '^npm error' "$log" >&2 || tail -n 20 "$log" >&2
  rm -f "$log"
  echo "npm ci failed (above). If it says the lock file is out of sync with package.json, run" \
    "'npm install --package-lock-only' and commit package-lock.json." >&2
  return 1
}

# Private Redis/PostgreSQL for whatever REDIS_URL / DATABASE_URL do not provide, in a directory of
# this run's own (so concurrent runs never share or stop each other's instances), stopped and
# deleted when the script exits for any reason: success, failure, Ctrl-C or SIGTERM.
# SERVICES_DIR is exported: tests use it to stop and restart the instances (docs/OPERATIONS.md).
SERVICES_OWNED=''

# Returns 1 when the environment provides both services.
plan_services() {
  if [[ -n ${REDIS_URL:-} && -n ${DATABASE_URL:-} ]]; then
    say "using REDIS_URL and DATABASE_URL from the environment"
    return 1
  fi
  own_services_dir "$1"
}

# A services directory of this run's own, stopped and deleted on exit.
own_services_dir() {
  export SERVICES_DIR="$ROOT/.tmp/services/$1-$$"
  SERVICES_OWNED=1
}

load_services_env() {
  if [[ -n $SERVICES_OWNED ]]; then
    # shellcheck disable=SC1091
    source "$SERVICES_DIR/env"
  fi
  export REDIS_URL DATABASE_URL
  if [[ -n ${REDIS_CLUSTER_TEST_NODES:-} ]]; then export REDIS_CLUSTER_TEST_NODES; fi
}

stop_services() {
  if [[ -n $SERVICES_OWNED ]]; then
    SERVICES_OWNED=''
    # Through a file: when whoever reads our output has gone (a closed pipe), a failed write must
    # not cut the stop short and leave PostgreSQL or Redis running.
    local log="${TMPDIR:-/tmp}/outcome-tracker-stop-$$.log"
    scripts/services.sh stop --clean >"$log" 2>&1 || true
    cat "$log" >&2 2>/dev/null || true
    rm -f "$log"
  fi
}

# An EXIT trap alone does not run when bash dies of a signal; turn signals into exits.
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
