#!/usr/bin/env bash
# Cube 0.33.65 for the local end-to-end stack: npm packages from demo/cube/package-lock.json.
# CUBESTORE_SKIP_POST_INSTALL: Cube Store's binary comes from a release page we cannot reach,
# and the local stack keeps pre-aggregations in Postgres (CUBEJS_EXTERNAL_DEFAULT=false).
set -euo pipefail
cd "$(dirname "$0")/../../demo/cube"
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "setup: npm not found; install Node.js 20 and npm" >&2
    exit 1
  fi
fi
stamp=node_modules/.floe-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
CUBESTORE_SKIP_POST_INSTALL=1 npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
