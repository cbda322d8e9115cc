"""A long live demo (SC-009): ``floe demo up`` with a short interval, left running, measured.

``.venv/bin/python benchmarks/bench_live_demo.py [--minutes 30] [--interval 1m] [--orders 300]``
(``--quick``: 5 minutes). It brings a demo up in a state folder of its own (``--detach``), samples
every minute the disk the state folder takes and the demo's runs (from Dagster's API), brings it
down, and prints one Markdown table: runs finished, failed, disk growth per hour and per run,
and whether every process was still alive at the end. Run on demand, never in CI: it is
wall-clock time by design.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _disk(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:
                continue  # a file removed while we walk (dbt's run folders are pruned)
    return total


def main() -> int:
    """Run the demo for the given minutes and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", default="1m")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="5 minutes")
    args = parser.parse_args()
    minutes = 5.0 if args.quick else args.minutes
    from floe_checks.clients.dagster import DagsterClient
    from floe_checks.stack.live import JOB

    state = Path(tempfile.mkdtemp(prefix="floe-bench-demo-"))
    env = {**os.environ, "FLOE_DEMO_STATE_DIR": str(state)}
    floe = [sys.executable, "-m", "floe_checks.cli", "demo"]
    up = subprocess.run(
        [*floe, "up", "--detach", "--interval", args.interval, "--orders", str(args.orders)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if up.returncode != 0:
        print(f"floe demo up failed:\n{up.stderr}", file=sys.stderr)
        return 1
    try:
        demo = json.loads((state / "demo.json").read_text(encoding="utf-8"))
        dagster = DagsterClient(demo["urls"]["dagster"])
        start, disk_start = time.monotonic(), _disk(state)
        while time.monotonic() - start < minutes * 60:
            time.sleep(60)
        hours = (time.monotonic() - start) / 3600
        disk_end = _disk(state)
        runs = dagster.runs(JOB, limit=1000)
        alive = subprocess.run(
            [*floe, "status"], env=env, capture_output=True, text=True, check=False
        ).stdout
    finally:
        subprocess.run([*floe, "down"], env=env, capture_output=True, check=False)
    done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE")]
    failed = [r for r in runs if r["status"] == "FAILURE"]
    growth = disk_end - disk_start
    processes = next((line.strip() for line in alive.splitlines() if "processes" in line), "?")
    print(f"### live demo, {minutes:.0f} min, interval {args.interval}, {args.orders} orders\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| runs finished | {len(done)} |")
    print(f"| runs failed | {len(failed)} |")
    print(f"| disk growth per hour | {growth / hours / 2**20:.1f} MiB |")
    print(f"| disk growth per run | {growth / max(len(done), 1) / 2**20:.2f} MiB |")
    print(f"| processes at the end | {processes} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
