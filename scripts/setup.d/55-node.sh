#!/usr/bin/env bash
# A real Kubernetes node for tests/node/ (docs/images.md, "Stage 2"): Debian's containerd 1.6.20
# (with the runc and CNI plugins 50-podman.sh's podman brought along) and the sandbox ("pause")
# image every pod needs, compiled from build/pause/linux/pause.c of the same k8s.io/kubernetes
# module the kubelet is built from (scripts/build-control-plane.sh), packed FROM scratch with
# podman and saved as a docker-archive that tests import into containerd. No registry involved.
# Idempotent: installs only missing Debian packages; the image tarball is made once per version
# into a cache OUTSIDE the clone. Measured: see docs/images.md ("Stage 2").
set -euo pipefail
cd "$(dirname "$0")/../.."
PAUSE_VERSION=3.10.2
KUBE_VERSION=v1.37.2
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/pause/$PAUSE_VERSION"
TARBALL="$CACHE/pause.tar"

need=()
for pkg in containerd runc containernetworking-plugins; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: ${need[*]} missing and not root on Debian; tests/node/ will skip (install them: apt-get install ${need[*]})" >&2
    exit 0
  fi
  started=$(date +%s)
  apt-get update -qq
  # Debian's containerd package enables a systemd unit; with no systemd as PID 1 (our VMs) it
  # does not start: the tests start their own containerd with their own config.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  echo "setup: installed ${need[*]} in $(( $(date +%s) - started )) s"
fi

if [ -s "$TARBALL" ]; then
  echo "setup: pause image $PAUSE_VERSION at $TARBALL (cached)"
  exit 0
fi
for tool in go gcc podman; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup: $tool not found; the pause image is not built (tests/node/ will skip)" >&2
    exit 0
  fi
done
started=$(date +%s)
src=$(cd tools/kube && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
if [ ! -f "$src/build/pause/linux/pause.c" ]; then
  echo "setup: pause.c not found in k8s.io/kubernetes@$KUBE_VERSION ($src)" >&2
  exit 1
fi
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
# the flags of build/pause/Makefile (CFLAGS), with our own version suffix
gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-floe" -o "$work/pause" "$src/build/pause/linux/pause.c"
# build/pause/Dockerfile, FROM scratch (its ARG BASE is scratch for Linux)
cat >"$work/Containerfile" <<'EOF'
FROM scratch
ADD pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
EOF
ref="localhost/floe-pause:$PAUSE_VERSION"
scripts/podman.sh build --pull=never --network none -q -t "$ref" -f "$work/Containerfile" "$work" >/dev/null
scripts/podman.sh save -q --format docker-archive -o "$work/pause.tar" "$ref" >/dev/null
mv "$work/pause.tar" "$TARBALL"
echo "setup: pause image $PAUSE_VERSION built in $(( $(date +%s) - started )) s at $TARBALL"
