"""``python -m floe_checks.cluster [WORKDIR]``: start the control plane and keep it up until Ctrl-C.

Prints the admin kubeconfig path and the start-up timings; every process is stopped by its PID
on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from floe_checks.cluster.controlplane import ControlPlane
from floe_checks.errors import FloeError


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Start, report, wait for Ctrl-C, stop. Returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m floe_checks.cluster")
    parser.add_argument("workdir", nargs="?", help="certs, kubeconfig, logs (default: a temp dir)")
    parser.add_argument("--nodes", type=int, default=2, help="kwok fake nodes (default 2)")
    parser.add_argument("--once", action="store_true", help="stop as soon as it is ready")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="floe-cluster-"))
    # SIGTERM takes the same clean path as Ctrl-C
    signal.signal(signal.SIGTERM, _raise_interrupt)
    plane = ControlPlane(workdir, nodes=args.nodes)
    try:
        with plane:
            print(f"ready in {plane.timings['ready']:.1f} s: {plane.timings}", flush=True)
            print(f"export KUBECONFIG={plane.kubeconfig_path}", flush=True)
            print(f"logs: {plane.log_dir}", flush=True)
            if not args.once:
                signal.pause()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    except FloeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.remediation:
            print(f"fix: {exc.remediation}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
