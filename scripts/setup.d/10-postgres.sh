#!/usr/bin/env bash
# PostgreSQL server binaries (initdb, postgres): tests start their own throwaway clusters.
set -euo pipefail
if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
else
  echo "setup: PostgreSQL server binaries not found; install PostgreSQL 14+ (initdb, postgres)" >&2
  exit 1
fi
