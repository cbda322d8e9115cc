"""End-to-end timings, as a Markdown table.

1. Wall time of ``pytest e2e -n auto``: the first run of this invocation ("cold": a fresh
   stack, nothing of this run in the OS cache yet) and the median of the following runs
   ("warm"). Goals (issue 5): cold <= 180 s, warm <= 90 s on 2 cores.
2. Delay from a Dagster run's success to its batch being visible in Cube through the refresh
   worker alone (no ``/pre-aggregations/jobs`` call): Cube's Orders count by status is polled
   until it equals the deduplicated raw orders in Iceberg. Goal <= 30 s.

Run from the repository root: ``.venv/bin/python benchmarks/bench_e2e.py [--runs 3]
[--batches 3]``. It starts and stops its own stacks (loopback only, stopped by PID).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def suite_wall_times(runs: int) -> list[float]:
    """Seconds of each ``pytest e2e -n auto`` run (a failing run aborts the benchmark)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "e2e", "-n", "auto", "-q", "-p", "no:cacheprovider"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"pytest e2e failed (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return times


def refresh_delays(batches: int, timeout: float = 180.0) -> list[float]:
    """Seconds from each run's success until Cube answers with its batch included."""
    from e2e.conftest import BY_STATUS, cube_by_status, run_batch
    from e2e.raw_facts import load_catalog, order_totals
    from floe_checks.clients.cube import CubeClient
    from floe_checks.clients.dagster import DagsterClient
    from floe_checks.stack.local import LocalProvider

    provider = LocalProvider()
    delays = []
    with tempfile.TemporaryDirectory(prefix="floe-bench-e2e-") as tmp:
        try:
            stack = provider.start(Path(tmp))
            assert stack.cube_playground_secret is not None
            cube = CubeClient(stack.cube_url, stack.cube_playground_secret, timeout=120)
            dagster = DagsterClient(stack.dagster_url)
            catalog = load_catalog(stack.catalog)
            run_batch(dagster)
            cube.run_pre_aggregation_jobs(timeout=120)  # the first rollup exists
            for _ in range(batches):
                run_batch(dagster)
                succeeded = time.perf_counter()
                expected = order_totals(catalog, "raw").by_status
                while cube_by_status(cube.load(BY_STATUS)) != expected:
                    if time.perf_counter() - succeeded > timeout:
                        sys.exit(f"the batch was not visible in Cube after {timeout:.0f} s")
                    time.sleep(0.5)
                delays.append(time.perf_counter() - succeeded)
        finally:
            provider.stop()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="pytest e2e runs (first is cold)")
    parser.add_argument("--batches", type=int, default=3, help="batches for the Cube delay")
    args = parser.parse_args()

    walls = suite_wall_times(args.runs)
    delays = refresh_delays(args.batches)
    warm = statistics.median(walls[1:]) if len(walls) > 1 else float("nan")
    print("| measurement | value | goal |")
    print("|---|---|---|")
    print(f"| `pytest e2e -n auto` cold (first run) | {walls[0]:.1f} s | <= 180 s |")
    print(f"| `pytest e2e -n auto` warm (median of {len(walls) - 1}) | {warm:.1f} s | <= 90 s |")
    print(
        f"| run success -> batch visible in Cube (refresh worker only; median of "
        f"{len(delays)}, max {max(delays):.1f} s) | {statistics.median(delays):.1f} s | <= 30 s |"
    )


if __name__ == "__main__":
    main()
