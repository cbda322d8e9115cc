# shellcheck shell=bash
# Sourced by scripts/setup.d/50-podman.sh and scripts/podman.sh: where the base image tarball and
# podman's own storage live (a cache OUTSIDE the clone, so CI's fresh clone reuses them), and the
# two settings podman needs on these VMs (docs/images.md). floe_checks/images.py computes the same
# paths for the tests; keep both in step.
FLOE_BASE_SUITE=bookworm
FLOE_BASE_PACKAGES=python3.11,python3.11-venv,python3-pip,python-is-python3,ca-certificates,libpq5
FLOE_IMAGES_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/images"
# The tarball's name carries the suite and a hash of the package list: a change builds a new one.
FLOE_BASE_KEY="$FLOE_BASE_SUITE-$(printf '%s' "$FLOE_BASE_PACKAGES" | sha256sum | cut -c1-12)"
FLOE_BASE_TARBALL="$FLOE_IMAGES_CACHE/base-python-$FLOE_BASE_KEY.tar.gz"
# The Node base for the Cube image (Debian's nodejs 18; Cube 0.33.65 comes from npm).
FLOE_NODE_PACKAGES=nodejs,ca-certificates
FLOE_NODE_KEY="$FLOE_BASE_SUITE-$(printf '%s' "$FLOE_NODE_PACKAGES" | sha256sum | cut -c1-12)"
FLOE_NODE_TARBALL="$FLOE_IMAGES_CACHE/base-node-$FLOE_NODE_KEY.tar.gz"
export FLOE_BASE_SUITE FLOE_BASE_PACKAGES FLOE_IMAGES_CACHE FLOE_BASE_KEY FLOE_BASE_TARBALL
export FLOE_NODE_PACKAGES FLOE_NODE_KEY FLOE_NODE_TARBALL
