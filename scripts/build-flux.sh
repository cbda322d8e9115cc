#!/usr/bin/env bash
# Builds Flux's source-controller, kustomize-controller and helm-controller (issue 13, FC-003)
# into ${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/<controller>/<version>/bin, with the CRDs of
# the same module version in .../crds (copied from the module, no network beyond the Go proxy),
# and, in the same go build, the `sops` and `age-keygen` commands the SOPS test encrypts with
# (.../sops/<version>/bin/sops, .../age/<version>/bin/age-keygen): kustomize-controller already
# links sops and age, so they add 8 packages to compile (docs/gitops.md, "Cost").
# scripts/setup.sh runs it in its background Go-build job, after the control plane (shared build
# cache): cold, about 1,500 more packages (68 MB of Go; the kube build plus the three controllers
# measured 22.4 CPU-minutes together, docs/cluster.md). Without it
# tests/cluster/test_flux_on_cluster.py skips, naming this script.
#
# tools/flux/go.mod is tools/kube/go.mod plus the three controllers as tools: the same k8s.io
# v0.37.2 packages, so the go build cache of the control-plane build is reused. Pinned: versions
# below (must match floe_checks/cluster/flux.py), tools/flux/go.sum. Idempotent; a no-op run is
# instant.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SOURCE_CONTROLLER_VERSION=v1.9.6
KUSTOMIZE_CONTROLLER_VERSION=v1.9.6
HELM_CONTROLLER_VERSION=v1.6.4
# the versions tools/flux's module graph already has (kustomize-controller's sops and age)
SOPS_VERSION=v3.13.2
AGE_VERSION=v1.3.1
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks
NICE=(nice -n "${FLOE_BUILD_NICE:-19}")
declare -A VERSION=([source-controller]=$SOURCE_CONTROLLER_VERSION
  [kustomize-controller]=$KUSTOMIZE_CONTROLLER_VERSION [helm-controller]=$HELM_CONTROLLER_VERSION)
CONTROLLERS=(source-controller kustomize-controller helm-controller)
# command → <cache folder>/<version>, package
declare -A TOOL_DIR=([sops]=sops/$SOPS_VERSION [age-keygen]=age/$AGE_VERSION)
declare -A TOOL_PKG=([sops]=github.com/getsops/sops/v3/cmd/sops
  [age-keygen]=filippo.io/age/cmd/age-keygen)
TOOLS=(sops age-keygen)

fail() { # component, command, fix
  echo "build-flux: $1 failed: $2" >&2
  echo "build-flux: fix: $3" >&2
  exit 1
}

stamp=$(cat "$ROOT/tools/flux/go.mod" "$ROOT/tools/flux/go.sum" | sha256sum | cut -d' ' -f1)
cached=1
for c in "${CONTROLLERS[@]}"; do
  dir=$CACHE/$c/${VERSION[$c]}
  if ! [ -x "$dir/bin/$c" ] || [ "$(cat "$dir/bin/.stamp" 2>/dev/null)" != "$stamp" ] ||
    ! ls "$dir"/crds/*.yaml >/dev/null 2>&1; then
    cached=0
  fi
done
for t in "${TOOLS[@]}"; do
  bin=$CACHE/${TOOL_DIR[$t]}/bin
  if ! [ -x "$bin/$t" ] || [ "$(cat "$bin/.stamp" 2>/dev/null)" != "$stamp" ]; then
    cached=0
  fi
done
if [ "$cached" = 1 ]; then
  echo "build-flux: ${CONTROLLERS[*]} ${TOOLS[*]} cached in $CACHE/<name>/<version>"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  fail source-controller "go (not found on PATH)" \
    "install Go >= 1.26 (the machine image ships /usr/local/go/bin/go; add it to PATH)"
fi
tmp=$(mktemp -d "$CACHE/.flux-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
cmd=(go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$tmp/"
  github.com/fluxcd/source-controller github.com/fluxcd/kustomize-controller
  github.com/fluxcd/helm-controller "${TOOL_PKG[@]}")
if ! (cd "$ROOT/tools/flux" && "${NICE[@]}" "${cmd[@]}"); then
  fail "source-controller/kustomize-controller/helm-controller/sops/age-keygen" \
    "(cd tools/flux && ${cmd[*]})" \
    "read the go error above; the Go module proxy must be reachable (GOPROXY=$(go env GOPROXY))"
fi
for c in "${CONTROLLERS[@]}"; do
  dir=$CACHE/$c/${VERSION[$c]}
  src=$(cd "$ROOT/tools/flux" && go mod download -json "github.com/fluxcd/$c@${VERSION[$c]}" |
    sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  ls "$src"/config/crd/bases/*.yaml >/dev/null 2>&1 ||
    fail "$c" "go mod download -json github.com/fluxcd/$c@${VERSION[$c]}" \
      "the module's config/crd/bases folder is missing; check the module cache ($(go env GOMODCACHE))"
  mkdir -p "$dir/bin" "$dir/crds"
  cp "$src"/config/crd/bases/*.yaml "$dir/crds/"
  chmod u+w "$dir"/crds/*.yaml
  mv "$tmp/$c" "$dir/bin/$c"
  echo "$stamp" >"$dir/bin/.stamp"
done
for t in "${TOOLS[@]}"; do
  bin=$CACHE/${TOOL_DIR[$t]}/bin
  mkdir -p "$bin"
  mv "$tmp/$t" "$bin/$t"
  echo "$stamp" >"$bin/.stamp"
done
echo "build-flux: ${CONTROLLERS[*]} ${TOOLS[*]} built in $(($(date +%s) - start)) s into $CACHE/<name>/<version>"
