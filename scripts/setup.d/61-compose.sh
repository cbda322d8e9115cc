#!/usr/bin/env bash
# Docker Compose v2 (`docker compose config` validates docker/docker-compose.demo.yml against the
# Compose Specification, no engine needed; Debian's docker-compose 1.29 predates that spec), built
# from the Go module proxy for tests/stack/test_compose_demo.py. `go install …@version` is
# refused (compose's go.mod has exclude directives), so a throwaway module that requires it and
# copies those excludes builds it. Pinned, built once per version into a cache OUTSIDE the clone,
# idempotent. Measured on our 2-core machine: see docs/local-stack.md ("Compose file check").
set -euo pipefail
COMPOSE_VERSION=v2.40.3
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/compose/${COMPOSE_VERSION}"
BIN="$CACHE/docker-compose"
if [ -x "$BIN" ] && [ "$("$BIN" version --short 2>/dev/null)" = "${COMPOSE_VERSION#v}" ]; then
  echo "setup: docker compose ${COMPOSE_VERSION} at $BIN (cached)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup: go not found; docker compose is not built (tests/stack/test_compose_demo.py says so)" >&2
  exit 0
fi
started=$(date +%s)
SRC="$CACHE/src"
rm -rf "$SRC"
mkdir -p "$SRC"
# The exclude block is compose v2.40.3's own (go.mod of github.com/docker/compose/v2).
cat > "$SRC/go.mod" <<'MOD'
module floe-checks.local/tools/compose

go 1.24.9

exclude (
	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc
	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2
)
MOD
cd "$SRC"
# go get lists hundreds of modules: keep its output for a failure only
if ! nice -n 10 go get "github.com/docker/compose/v2/cmd@${COMPOSE_VERSION}" > "$SRC/get.log" 2>&1; then
  cat "$SRC/get.log" >&2
  exit 1
fi
nice -n 10 go build -trimpath \
  -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=${COMPOSE_VERSION}" \
  -o "$BIN.tmp" github.com/docker/compose/v2/cmd
mv "$BIN.tmp" "$BIN"
echo "setup: docker compose ${COMPOSE_VERSION} built in $(( $(date +%s) - started )) s at $BIN"
