#!/usr/bin/env bash
# Containers without a Docker engine (docs/images.md): Debian's podman + runc, and a Debian
# bookworm base image made with debootstrap, for tests/images/ to build and run our images.
# Idempotent: installs only the Debian packages that are missing, and builds the base image
# tarball once per pinned package set into a cache OUTSIDE the clone. Podman's storage lives under
# that cache too (scripts/podman.sh), never in the machine's default store.
# Measured on our 2-core machine: see docs/images.md ("Timings").
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../podman-env.sh
. scripts/podman-env.sh

need=()
for pkg in podman runc debootstrap; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: ${need[*]} missing and not root on Debian; tests/images/ will skip (install them: apt-get install ${need[*]})" >&2
    exit 0
  fi
  started=$(date +%s)
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  echo "setup: installed ${need[*]} in $(( $(date +%s) - started )) s"
fi

mkdir -p "$FLOE_IMAGES_CACHE"
# base_tarball TARBALL PACKAGES: debootstrap --variant=minbase with PACKAGES, tarred, once.
base_tarball() {
  local tarball=$1 packages=$2 started root
  if [ -s "$tarball" ]; then
    echo "setup: base image tarball $tarball (cached)"
    return 0
  fi
  started=$(date +%s)
  root=$(mktemp -d "$FLOE_IMAGES_CACHE/rootfs.XXXXXX")
  # debootstrap prints a line per package: keep its log for a failure only.
  if ! nice -n 10 debootstrap --variant=minbase --include="$packages" \
    "$FLOE_BASE_SUITE" "$root" > "$root.log" 2>&1; then
    tail -30 "$root.log" >&2
    rm -rf "$root" "$root.log"
    echo "setup: debootstrap $FLOE_BASE_SUITE --include=$packages failed (log above); tests/images/ need it" >&2
    return 1
  fi
  rm -f "$root.log"
  # apt's package lists and caches are not part of an image.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | gzip -1 > "$tarball.tmp"
  mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
  echo "setup: base image tarball built in $(( $(date +%s) - started )) s at $tarball"
}
base_tarball "$FLOE_BASE_TARBALL" "$FLOE_BASE_PACKAGES"
base_tarball "$FLOE_NODE_TARBALL" "$FLOE_NODE_PACKAGES"

# The Dagster image's wheelhouse (a network-bound `pip download`, ~4 min cold) is fetched here,
# while the control-plane build runs in the background, rather than inside the test run; the
# tests reuse it (same key: pyproject.toml and the extra requirements).
if [ -x .venv/bin/python ]; then
  started=$(date +%s)
  house=$(.venv/bin/python -c 'from pathlib import Path
from floe_checks import images
print(images.ensure_wheelhouse(Path.cwd(), images.cache_root()))')
  echo "setup: Dagster image wheelhouse $house ($(( $(date +%s) - started )) s)"
fi
