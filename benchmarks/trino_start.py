"""Trino start-up benchmark: prints a Markdown table.

For each JVM variant it starts a real Trino 483 (``floe_checks.servers.trino``, the memory and
tpch catalogs, ``-Xmx1G``) and measures: seconds from ``Popen`` until ``/v1/info`` says
``starting: false``; the first query (``SELECT count(*) FROM tpch.tiny.nation``) and a second
one; the JVM's resident memory after them. Then it stops the server by PID.

Run from the repository root: ``.venv/bin/python benchmarks/trino_start.py [--repeat N]
[--only VARIANT]``. Needs ``bash scripts/setup.d/60-trino.sh`` first.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from floe_checks.servers.trino import TrinoServer, find_install  # noqa: E402


def _variants(cds_dir: Path) -> dict[str, tuple[str, ...]]:
    return {
        # the server's default: C1 only, less JIT work while Guice wires hundreds of classes
        "c1-only (default)": (),
        # both JIT tiers, as Trino's own jvm.config runs it
        "c1+c2": ("-XX:TieredStopAtLevel=4",),
        # C1 only plus a dynamic CDS archive written at the first exit, mapped by later starts
        "c1-only + appcds": (
            "-XX:+AutoCreateSharedArchive",
            f"-XX:SharedArchiveFile={cds_dir / 'trino.jsa'}",
        ),
    }


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _query_seconds(server: TrinoServer, sql: str) -> float:
    import trino

    conn = trino.dbapi.connect(host=server.host, port=server.port, user="bench")  # type: ignore[no-untyped-call]
    started = time.monotonic()
    try:
        cur = conn.cursor()
        cur.execute(sql)
        if cur.fetchall() != [[25]]:
            raise SystemExit(f"{sql} did not answer 25")
    finally:
        conn.close()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", action="append", help="variant name (repeatable)")
    args = parser.parse_args()
    install = find_install()
    cds_dir = Path(tempfile.mkdtemp(prefix="floe-trino-cds-"))
    rows = []
    try:
        for name, flags in _variants(cds_dir).items():
            if args.only and name not in args.only:
                continue
            ready, first, second, rss = [], [], [], []
            for _ in range(args.repeat):
                base = Path(tempfile.mkdtemp(prefix="floe-trino-bench-"))
                server = TrinoServer(base, jvm_flags=flags)
                try:
                    server.start(timeout=180)
                    assert server.ready_seconds is not None
                    ready.append(server.ready_seconds)
                    sql = "SELECT count(*) FROM tpch.tiny.nation"
                    first.append(_query_seconds(server, sql))
                    second.append(_query_seconds(server, sql))
                    assert server.process is not None
                    rss.append(_rss_mib(server.process.pid))
                finally:
                    server.stop()
                    shutil.rmtree(base, ignore_errors=True)
            rows.append(
                f"| {name} | {' / '.join(f'{v:.1f}' for v in ready)} | "
                f"{statistics.median(first):.2f} | {statistics.median(second):.2f} | "
                f"{max(rss):.0f} |"
            )
    finally:
        shutil.rmtree(cds_dir, ignore_errors=True)
    print(f"Trino {install.version} start-up ({args.repeat} runs each, -Xmx1G)\n")
    print("| variant | ready s (each run) | first query s | second query s | RSS MiB |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
