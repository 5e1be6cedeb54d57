#!/usr/bin/env bash
# `npm run demo`: installs what is missing, starts private Redis/PostgreSQL unless REDIS_URL and
# DATABASE_URL are given, runs the demo, and stops the services again on exit or Ctrl-C.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_node_modules
if plan_services demo; then
  say "starting private services"
  scripts/services.sh start
fi
load_services_env

say "demo"
node_modules/.bin/tsx src/demo/runDemo.ts "$@"
