"""Run every benchmark in benchmarks/ and print ONE Markdown table plus the machine it ran on.

Run from anywhere: ``.venv/bin/python benchmarks/run_all.py [--quick] [--only NAME]``.

* Each ``benchmarks/bench_*.py`` runs as its own process (the venv's Python, repository root
  as working directory) and prints Markdown tables; every table row becomes one row here:
  benchmark (script and table heading), metric (the row's first cell and the table's last
  column header), value (that last cell), goal (from :data:`GOALS`, with ``met`` or
  ``missed``, else ``—``).
* The plugin's import cost is measured here directly (:func:`plugin_import_rows`): median wall
  time of a fresh ``import floe_checks.plugin``, its own ``-X importtime`` total, and how many
  heavy client libraries it pulled in (the goal is none).
* ``--quick`` passes each script its fast options (:data:`QUICK_ARGS`; a script whose
  ``--help`` offers ``--quick`` gets that), for a smoke run; the README table comes from a
  full run.

A script that fails or prints no table shows up as a row saying so, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from floe_checks.plugin import HEAVY_MODULES

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
SCRIPT_TIMEOUT = 3600.0

# Fast options per script for --quick (scripts not listed get --quick if their --help has it).
QUICK_ARGS: dict[str, list[str]] = {
    "bench_generator.py": ["--orders", "20000", "--repeat", "2"],
    "bench_preflight.py": ["--repeat", "1", "--calls", "5"],
    "bench_e2e.py": ["--runs", "2", "--batches", "1"],
    "bench_blackhole_xdist.py": ["--repeat", "1"],
    "bench_flux.py": ["--pushes", "2"],
}


@dataclass(frozen=True)
class Goal:
    """A target for the metrics whose name matches ``pattern`` (case-insensitive) in the
    tables of ``script``: ``text`` is shown; ``met(value)`` decides met/missed when given."""

    script: str
    pattern: str
    text: str
    met: Callable[[float], bool] | None = None


GOALS: tuple[Goal, ...] = (
    # issue 4: the generator makes >= 250,000 order_items rows/s on one core.
    Goal("bench_generator.py", r"^generate batch", "≥ 250,000 rows/s", lambda v: v >= 250_000),
    # issue 5: e2e wall time on 2 cores, and the delay until a new batch is visible in Cube.
    Goal("bench_e2e.py", r"cold", "≤ 180 s", lambda v: v <= 180),
    Goal("bench_e2e.py", r"warm", "≤ 90 s", lambda v: v <= 90),
    Goal("bench_e2e.py", r"visible in cube", "≤ 30 s", lambda v: v <= 30),
    # issue 13: a push is in the cluster within 60 s with the GitRepository interval shortened
    # (SC-002 allows 5 minutes).
    Goal("bench_flux.py", r"push → applied, max", "≤ 60 s", lambda v: v <= 60),
    # issue 1: importing the plugin imports no client library, dagster or dbt.
    Goal("plugin import", r"heavy", "0 modules", lambda v: v == 0),
)


@dataclass(frozen=True)
class Row:
    """One line of the merged table."""

    benchmark: str
    metric: str
    value: str
    goal: str = "—"


@dataclass(frozen=True)
class Table:
    """A Markdown table printed by a script, with the nearest heading above it."""

    heading: str
    header: list[str]
    rows: list[list[str]]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_tables(text: str) -> Iterator[Table]:
    """Every Markdown table in ``text`` (header, separator, rows), with its heading."""
    heading = ""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        is_table = (
            line.startswith("|")
            and index + 1 < len(lines)
            and re.fullmatch(r"\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?", lines[index + 1].strip())
        )
        if not is_table:
            index += 1
            continue
        header = _cells(line)
        index += 2
        rows = []
        while index < len(lines) and lines[index].strip().startswith("|"):
            rows.append(_cells(lines[index]))
            index += 1
        yield Table(heading, header, rows)


def number(value: str) -> float | None:
    """The number a cell shows (``1,234``, ``+5.2``, ``12.3 s``), or None."""
    found = re.search(r"[-+]?\d[\d,]*(?:\.\d+)?", value)
    return float(found.group(0).replace(",", "")) if found else None


def goal_for(script: str, metric: str, value: str, stated: str = "") -> str:
    """The goal cell of a metric: the goal text (``stated`` by the script's own goal column,
    else :data:`GOALS`) and whether it was met, or ``—``."""
    for goal in GOALS:
        if goal.script == script and re.search(goal.pattern, metric, re.IGNORECASE):
            text = stated or goal.text
            measured = number(value)
            if goal.met is None or measured is None:
                return text
            return f"{text} ({'met' if goal.met(measured) else 'missed'})"
    return stated or "—"


def sequential_goals(script: str, table: Table) -> dict[int, str]:
    """For tables comparing concurrent runs with ``one after another`` ones: the goal of each
    concurrent row is to beat the sequential run of the same tool (first word of the row)."""

    def tool(label: str) -> str:
        found = re.match(r"\W*(\w+)", label)
        return found.group(1) if found else label

    baselines: dict[str, float] = {}
    for row in table.rows:
        value = number(row[-1])
        if "one after another" in row[0] and value is not None:
            baselines.setdefault(tool(row[0]), value)
    goals: dict[int, str] = {}
    for position, row in enumerate(table.rows):
        base = baselines.get(tool(row[0]))
        value = number(row[-1])
        if base is None or value is None or "one after another" in row[0]:
            continue
        verdict = "met" if value < base else "missed"
        goals[position] = f"< {base:,.0f} (one after another) ({verdict})"
    return goals


# A figure printed as a sentence outside the tables: "Sum of the check durations: 600 ms".
STATED = re.compile(r"^(?P<label>[A-Z][^|#:]{3,120}):\s*(?P<value>[-+]?\d[\d,.]*\s*[a-z/%]*)$")


def rows_from_output(script: str, text: str) -> list[Row]:
    """The merged-table rows of one script's output: each table row's value column (the last
    one that is not a ``goal`` column), and each stated figure outside the tables."""
    out: list[Row] = []
    heading = ""
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif found := STATED.match(line.strip()):
            name = f"{script}: {heading}" if heading else script
            out.append(Row(name, found.group("label").strip(), found.group("value").strip()))
    for table in parse_tables(text):
        concurrent = sequential_goals(script, table)
        name = f"{script}: {table.heading}" if table.heading else script
        # The value is the last column, unless the script states its own goals there.
        lowered = [h.lower() for h in table.header]
        goal_column = lowered.index("goal") if "goal" in lowered else None
        value_column = max(i for i in range(len(lowered)) if i != goal_column)
        for position, cells in enumerate(table.rows):
            if len(cells) != len(table.header) or value_column == 0:
                continue
            column = table.header[value_column]
            metric = cells[0] if column.lower() == "value" else f"{cells[0]} — {column}"
            value = cells[value_column]
            stated = cells[goal_column] if goal_column is not None else ""
            goal = concurrent.get(position) or goal_for(script, metric, value, stated)
            out.append(Row(name, metric, value, goal))
    return out


def _help_offers_quick(path: Path) -> bool:
    done = subprocess.run(
        [sys.executable, str(path), "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return "--quick" in done.stdout


def run_script(path: Path, quick: bool) -> tuple[list[Row], float, bool]:
    """Run one benchmark script; returns its rows, its wall time and whether it succeeded."""
    argv = [sys.executable, str(path)]
    if quick:
        argv += QUICK_ARGS.get(path.name) or (["--quick"] if _help_offers_quick(path) else [])
    print(f"running {' '.join(argv[1:])} ...", file=sys.stderr, flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "demo")])}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            argv,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        seconds = time.perf_counter() - start
        return [Row(path.name, f"timed out after {SCRIPT_TIMEOUT:.0f} s", "—")], seconds, False
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:160]
        return [Row(path.name, f"failed (exit {done.returncode}): {last}", "—")], seconds, False
    rows = rows_from_output(path.name, done.stdout)
    if not rows:
        return [Row(path.name, "printed no Markdown table", "—")], seconds, False
    return rows, seconds, True


def plugin_import_rows(repeat: int) -> list[Row]:
    """Import cost of ``floe_checks.plugin`` in fresh interpreters."""
    code = "import floe_checks.plugin"
    walls = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)
        walls.append((time.perf_counter() - start) * 1000)
    baseline = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], cwd=REPO, check=True, timeout=120)
        baseline.append((time.perf_counter() - start) * 1000)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    own_us = 0
    imported: set[str] = set()
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+\d+\s+\|\s+(\d+)\s+\|\s*(\S+)", line)
        if not found:
            continue
        imported.add(found.group(2))
        if found.group(2) == "floe_checks.plugin":
            own_us = int(found.group(1))
    heavy = sorted({m.split(".")[0] for m in imported} & set(HEAVY_MODULES))
    name = "plugin import"
    heavy_metric = "heavy client modules imported (boto3, google, dbt, …)"
    heavy_value = f"{len(heavy)}" + (f" ({', '.join(heavy)})" if heavy else "")
    return [
        Row(
            name,
            f"fresh `import floe_checks.plugin`, wall (ms, median of {repeat}, interpreter "
            f"start {statistics.median(baseline):.0f} ms included)",
            f"{statistics.median(walls):.0f}",
        ),
        Row(
            name,
            "floe_checks.plugin cumulative import time (-X importtime, ms)",
            f"{own_us / 1000:.0f}",
        ),
        Row(name, heavy_metric, heavy_value, goal_for(name, heavy_metric, heavy_value)),
    ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine() -> list[str]:
    """Lines describing where the benchmarks ran."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- CPU: {_cpu_model()}, {os.cpu_count()} logical cores ({usable} usable)",
        f"- RAM: {_ram_gib()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}",
        f"- commit {commit or 'unknown'}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    ]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render(rows: list[Row], seconds: dict[str, float], quick: bool) -> str:
    """The merged table and the machine, as Markdown."""
    lines = [
        "| benchmark | metric | value | goal |",
        "|---|---|---:|---|",
        *(
            f"| {_escape(r.benchmark)} | {_escape(r.metric)} | {_escape(r.value)} | "
            f"{_escape(r.goal)} |"
            for r in rows
        ),
        "",
        "Machine:",
        *machine(),
        "- mode: " + ("--quick (smoke run, not for the README)" if quick else "full"),
        "- script wall times: "
        + ", ".join(f"{name} {value:.0f} s" for name, value in seconds.items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fast options for each script")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only scripts whose file name contains NAME (repeatable; 'import' = plugin)",
    )
    args = parser.parse_args(argv)

    def wanted(name: str) -> bool:
        return not args.only or any(part in name for part in args.only)

    rows: list[Row] = []
    seconds: dict[str, float] = {}
    ok = True
    if wanted("plugin import"):
        start = time.perf_counter()
        rows += plugin_import_rows(3 if args.quick else 7)
        seconds["plugin import"] = time.perf_counter() - start
    for path in sorted(HERE.glob("bench_*.py")):
        if not wanted(path.name):
            continue
        script_rows, took, succeeded = run_script(path, args.quick)
        rows += script_rows
        seconds[path.name] = took
        ok = ok and succeeded
    print(render(rows, seconds, args.quick))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
