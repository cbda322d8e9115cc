#!/usr/bin/env bash
# Debian's headless Chromium: tests/plugin/test_report.py renders `floe report --html` in it and
# checks what a reader sees. Measured: ~46 s cold (apt-get install), 0 s warm (already there).
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
else
  echo "setup: chromium not found; the HTML report test will skip (apt-get install chromium)" >&2
fi
