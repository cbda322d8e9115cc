#!/usr/bin/env bash
# podman with this project's storage and settings (docs/images.md): storage under
# ${XDG_CACHE_HOME:-~/.cache}/floe-checks/images/podman, never the machine's default store;
# runc as the runtime; no default ulimits. Usage: scripts/podman.sh images | run … | build …
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
[ -x "$python" ] || python=python3
# floe_checks/images.py writes the two config files and knows the flags: one source of truth.
exec "$python" -c '
import os, sys
from floe_checks import images
pm = images.Podman.find()
os.execve(pm.executable, pm.command(*sys.argv[1:]), pm.env())
' "$@"
