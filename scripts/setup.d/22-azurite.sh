#!/usr/bin/env bash
# Azurite: the local Azure Blob emulator for the preflight tests, from npm, pinned in
# tools/azurite/package-lock.json. Always started with --disableTelemetry.
set -euo pipefail
cd "$(dirname "$0")/../../tools/azurite"
if [ -x node_modules/.bin/azurite-blob ]; then
  exit 0
fi
npm ci --no-audit --no-fund --silent
