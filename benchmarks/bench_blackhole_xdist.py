"""Blackhole benchmark (issue 15.19): when is a blackholed endpoint reported, with and without
xdist? Prints a Markdown table.

A TCP endpoint that accepts connections and never answers is the catalog of a one-service
environment; ``pytest -m preflight --floe-timeout 5`` checks it. Measured from the moment
pytest prints ``test session starts`` (pytest's own start-up and imports come before it and are
not the check's time) to:

* the first result line: under xdist the controller's ``floe preflight: [CATALOG] ERROR …``
  line, printed when the check is done; without xdist the test's ``FAILED`` line;
* the test's own ``FAILED`` line (under xdist it needs the workers up: their start-up is here);

and the check's recorded ``duration_ms`` from the report. The goal: the first result line
within timeout + 2 s (7 s), under xdist as without it; and ``floe preflight --timeout 5`` on the
same environment exits within 7 s (its row: start to exit, Python's start-up included). The
test suite checks what the outcome is, not how long it took
(tests/preflight/test_preflight_run.py).

Run from the repository root: ``.venv/bin/python benchmarks/bench_blackhole_xdist.py
[--repeat N]``. It starts and stops its own blackhole (loopback only, stopped by PID).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from tests.preflight import local_servers  # noqa: E402

BIN = Path(sys.executable).parent
TIMEOUT = 5


def _one_run(work: Path, extra: list[str]) -> tuple[float, float, int]:
    """(s to the first result line, s to the test's FAILED line, the check's duration_ms)."""
    argv = [str(BIN / "pytest"), "-p", "no:cacheprovider", "--floe-env=hole", "-m", "preflight"]
    argv += ["-v", f"--floe-timeout={TIMEOUT}", "--floe-report=report.json", *extra]
    env = {k: v for k, v in os.environ.items() if k not in ("FLOE_ENV", "FLOE_CONFIG")}
    env["HOLE_SECRET"] = "bench-hole-secret"  # pragma: allowlist secret
    env["PYTEST_ADDOPTS"] = "-p no:pytest-kind"
    process = subprocess.Popen(
        argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    started = first = failed = None
    assert process.stdout is not None
    for line in process.stdout:
        now = time.monotonic()
        if started is None and "test session starts" in line:
            started = now
        if first is None and (line.startswith("floe preflight: [") or "FAILED" in line):
            first = now
        if failed is None and "FAILED" in line and "test_preflight" in line:
            failed = now
    process.wait()
    if started is None or first is None or failed is None:
        raise SystemExit(f"unexpected output of {' '.join(argv)} (exit {process.returncode})")
    (check,) = json.loads((work / "report.json").read_text(encoding="utf-8"))["checks"]
    return first - started, failed - started, int(check["duration_ms"])


def _cli_run(work: Path) -> float:
    """Seconds from ``floe preflight --timeout 5`` starting to its exit (the report is printed
    at the end): the CLI's side of the same goal."""
    env = {k: v for k, v in os.environ.items() if k not in ("FLOE_ENV", "FLOE_CONFIG")}
    env["HOLE_SECRET"] = "bench-hole-secret"  # pragma: allowlist secret
    argv = [str(BIN / "floe"), "preflight", "--env", "hole", "--timeout", str(TIMEOUT)]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 1 or not done.stdout.startswith("[CATALOG] ERROR: no answer from "):
        raise SystemExit(f"unexpected output of {' '.join(argv)} (exit {done.returncode})")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="floe-bench-hole-") as tmp:
        work = Path(tmp)
        with local_servers.blackhole(work) as hole:
            environments = {
                "hole": {
                    "catalog": {
                        "type": "polaris",
                        "uri": hole.url,
                        "client_id": "floe",
                        "client_secret": "${HOLE_SECRET}",
                    }
                }
            }
            (work / "floe.yaml").write_text(
                yaml.safe_dump({"environments": environments}), encoding="utf-8"
            )
            (work / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            print(f"| run (--floe-timeout {TIMEOUT}) | first result line | test's FAILED line "
                  "| check duration_ms | goal (first line ≤ 7 s) |")  # fmt: skip
            print("|---|---|---|---|---|")
            for label, extra in (("without xdist", ["-p", "no:xdist"]), ("-n 2", ["-n", "2"])):
                runs = [_one_run(work, extra) for _ in range(args.repeat)]
                first = statistics.median(r[0] for r in runs)
                failed = statistics.median(r[1] for r in runs)
                duration = statistics.median(r[2] for r in runs)
                verdict = "met" if first <= TIMEOUT + 2 else "missed"
                print(f"| {label} | {first:.1f} s | {failed:.1f} s | {duration:.0f} | {verdict} |")
            cli = statistics.median(_cli_run(work) for _ in range(args.repeat))
            verdict = "met" if cli <= TIMEOUT + 2 else "missed"
            print(f"| floe preflight --timeout {TIMEOUT} (start to exit) | {cli:.1f} s | — | — "
                  f"| {verdict} |")  # fmt: skip


if __name__ == "__main__":
    main()
