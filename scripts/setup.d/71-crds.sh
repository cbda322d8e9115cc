#!/usr/bin/env bash
# The CRDs of External Secrets Operator, Sealed Secrets, Argo CD and Flux, taken from the CRD
# manifests inside each project's own Go module (issue 12, FC-002): `go mod download -json
# MODULE@VERSION` fetches the module zip into Go's module cache (outside the clone; nothing is
# built), and each pinned file is copied, after its sha256 is checked, into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/crds/<project>/<version>/<file name>
# tests/cluster/test_crds_on_cluster.py installs them on the local control plane.
# Pins (versions, paths, sha256): 71-crds.pins beside this script. Idempotent: a file already in
# the cache with the pinned sha256 is not fetched again, and Go is then not needed at all.
# Measured (docs/cluster.md): cold 9-13 s with an empty Go module cache (331 MB of modules, most
# of it Argo CD's), 0.7 s with the modules cached, 0.1-0.4 s when the CRDs are cached.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PINS=${FLOE_CRDS_PINS:-$HERE/71-crds.pins}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/crds

fail() { # component, command, fix
  echo "setup: crds: $1 failed: $2" >&2
  echo "setup: crds: fix: $3" >&2
  exit 1
}

# Sets MODULE_DIR to MODULE@VERSION's folder in Go's module cache, downloading it when missing
# (no subshell, so each module is asked for once per run).
declare -A module_dirs=()
module_dir() { # component, module, version
  local key="$2@$3" out dir err
  if [ -n "${module_dirs[$key]:-}" ]; then
    MODULE_DIR=${module_dirs[$key]}
    return
  fi
  command -v go >/dev/null 2>&1 ||
    fail "$1" "go (not found on PATH)" \
      "install Go >= 1.26 (the machine image ships /usr/local/go/bin/go; add it to PATH)"
  # Outside any module or workspace, and with the local toolchain only: a pin that needs a newer
  # Go must fail here with Go's own words, not fetch a toolchain behind our back.
  if ! out=$(cd / && GOWORK=off GOTOOLCHAIN=local go mod download -json "$key" 2>&1); then
    err=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p')
    fail "$1" "go mod download -json $key" \
      "pin a version the Go module proxy serves (go list -m -versions $2) in $PINS; Go said: ${err:-$(printf '%s' "$out" | tr '\n' ' ')}"
  fi
  dir=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] ||
    fail "$1" "go mod download -json $key" \
      "no module folder in Go's answer; check GOMODCACHE ($(go env GOMODCACHE)); Go said: $(printf '%s' "$out" | tr '\n' ' ')"
  module_dirs[$key]=$dir
  MODULE_DIR=$dir
}

started=$(date +%s%N)
copied=0
cached=0
while read -r project version module path sha; do
  case "$project" in '' | '#'*) continue ;; esac
  [ -n "$sha" ] || fail "$PINS" "reading the pins" "each line needs: project version module path sha256"
  dest_dir="$CACHE/$project/$version"
  dest="$dest_dir/$(basename "$path")"
  if [ -f "$dest" ] && echo "$sha  $dest" | sha256sum -c --quiet >/dev/null 2>&1; then
    cached=$((cached + 1))
    continue
  fi
  component="$project $version CRD $(basename "$path")"
  module_dir "$component" "$module" "$version"
  src="$MODULE_DIR/$path"
  [ -f "$src" ] ||
    fail "$component" "test -f $src" \
      "the module $module@$version has no $path; fix the path in $PINS"
  echo "$sha  $src" | sha256sum -c --quiet >/dev/null 2>&1 ||
    fail "$component" "sha256sum $src" \
      "the file is not the pinned one (got $(sha256sum "$src" | cut -d' ' -f1)); check the pin in $PINS"
  mkdir -p "$dest_dir"
  # copy then rename: a half-written file is never taken for a cached one
  cp "$src" "$dest.tmp.$$"
  chmod 0644 "$dest.tmp.$$"
  mv -f "$dest.tmp.$$" "$dest"
  copied=$((copied + 1))
done <"$PINS"
ms=$((($(date +%s%N) - started) / 1000000))
echo "setup: crds: $copied copied, $cached cached, in $CACHE ($((ms / 1000)).$(printf %03d $((ms % 1000))) s)"
