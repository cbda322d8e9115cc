#!/usr/bin/env bash
# Builds Jaeger (v2, all-in-one: github.com/jaegertracing/jaeger/cmd/jaeger) from the Go module
# proxy into ${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/jaeger/<version>/bin/jaeger (issue 16,
# FR-034). No Jaeger release binary or image is reachable from our machines.
# scripts/setup.sh runs it in its background Go-build job, after the control plane and Flux:
# cold, it compiles the whole OpenTelemetry Collector plus every storage client Jaeger links
# (Cassandra, Elasticsearch, ClickHouse, Kafka, Badger, cloud SDKs), about 9 CPU-minutes (37 min
# of wall on our crowded 2-core machine; docs/e2e.md, "Traces in Jaeger"). Without it
# tests/observability/test_jaeger_real.py skips, naming this script.
#
# Pinned: the version below (must match floe_checks/servers/jaeger.py JAEGER_VERSION) and
# tools/jaeger/go.mod / go.sum (cmd/jaeger is a `tool` of that module, so go.sum pins every module
# it compiles). Idempotent: the binary carries a stamp of go.mod+go.sum; a no-op run is instant.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JAEGER_VERSION=v1.76.0
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks
DIR=$CACHE/jaeger/$JAEGER_VERSION/bin
NICE=(nice -n "${FLOE_BUILD_NICE:-10}")

fail() { # command, fix
  echo "build-jaeger: jaeger failed: $1" >&2
  echo "build-jaeger: fix: $2" >&2
  exit 1
}

stamp=$(cat "$ROOT/tools/jaeger/go.mod" "$ROOT/tools/jaeger/go.sum" | sha256sum | cut -d' ' -f1)
if [ -x "$DIR/jaeger" ] && [ "$(cat "$DIR/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "build-jaeger: jaeger $JAEGER_VERSION cached in $DIR"
  exit 0
fi
grep -q "github.com/jaegertracing/jaeger $JAEGER_VERSION" "$ROOT/tools/jaeger/go.mod" ||
  fail "tools/jaeger/go.mod does not require github.com/jaegertracing/jaeger $JAEGER_VERSION" \
    "keep JAEGER_VERSION here, in floe_checks/servers/jaeger.py and tools/jaeger/go.mod the same"
if ! command -v go >/dev/null 2>&1; then
  fail "go (not found on PATH)" \
    "install Go >= 1.26 (the machine image ships /usr/local/go/bin/go; add it to PATH)"
fi
mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/.jaeger-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
cmd=(go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$tmp/jaeger"
  github.com/jaegertracing/jaeger/cmd/jaeger)
if ! (cd "$ROOT/tools/jaeger" && "${NICE[@]}" "${cmd[@]}"); then
  fail "(cd tools/jaeger && ${cmd[*]})" \
    "read the go error above; the Go module proxy must be reachable (GOPROXY=$(go env GOPROXY))"
fi
mkdir -p "$DIR"
mv "$tmp/jaeger" "$DIR/jaeger"
echo "$stamp" >"$DIR/.stamp"
echo "build-jaeger: jaeger $JAEGER_VERSION built in $(($(date +%s) - start)) s into $DIR"
