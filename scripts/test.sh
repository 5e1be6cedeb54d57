#!/usr/bin/env bash
# `npm test`: everything a fresh clone needs, then type check, lint, format check and vitest against
# real Redis and PostgreSQL. Extra arguments go to vitest (npm test -- test/unit). SKIP_CHECKS=1
# skips tsc/eslint/prettier while iterating on tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_node_modules

# The services start in the background while the static checks run (on a fresh machine that
# includes installing redis-server/PostgreSQL, Chromium and promtool with apt).
# One background job, one apt-get at a time: the test tools (Chromium, promtool), then the services.
services_pid=''
services_log="$ROOT/.tmp/services-start-$$.log"
mkdir -p "$ROOT/.tmp"
# The Redis Cluster tests get a private 3-master cluster unless REDIS_CLUSTER_TEST_NODES names one.
if plan_services test; then
  { scripts/services.sh tools && scripts/services.sh start && scripts/services.sh cluster-start; } >"$services_log" 2>&1 &
elif [[ -z ${REDIS_CLUSTER_TEST_NODES:-} ]]; then
  own_services_dir test
  { scripts/services.sh tools && scripts/services.sh cluster-start; } >"$services_log" 2>&1 &
else
  scripts/services.sh tools >"$services_log" 2>&1 &
fi
services_pid=$!
wait_services() {
  local rc=0
  if [[ -n $services_pid ]]; then
    wait "$services_pid" || rc=$?
    services_pid=''
    cat "$services_log" >&2
    rm -f "$services_log"
  fi
  return "$rc"
}
# A failing check must not leave a half-started instance behind: let the start finish, then stop.
trap 'wait_services || true; stop_services' EXIT

if [[ ${SKIP_CHECKS:-} != 1 ]]; then
  say "tsc --noEmit"
  node_modules/.bin/tsc --noEmit
  say "eslint"
  node_modules/.bin/eslint .
  say "prettier --check"
  node_modules/.bin/prettier --check . --log-level warn
fi

say "services"
if ! wait_services; then
  echo "starting the services failed (log above)" >&2
  exit 1
fi
load_services_env

say "vitest run $*"
node_modules/.bin/vitest run "$@"

# package.json promises Node >= 20.19 and this machine runs 20: the unit tier again on Node 22
# (npx fetches it from the npm registry), on a full run only. NODE22=off skips it.
if [[ $# -eq 0 && ${NODE22:-on} != off ]]; then
  say "unit tests on Node 22 (npx -p node@22)"
  npx --yes -p node@22 node node_modules/vitest/vitest.mjs run test/unit
fi
