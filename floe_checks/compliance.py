"""Merge JUnit XML files from several runs (tox envs, backends) into one requirement matrix:
requirement → backend → outcome, and per requirement the strongest evidence level that passed
in any run, the levels that only skipped, and the level it needs. Reads the ``requirement`` and
``evidence`` properties the plugin writes on each test case."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from floe_checks.errors import ConfigError
from floe_checks.evidence import LEVELS, UNSTATED, below
from floe_checks.requirements import needs, registry
from floe_checks.trace import (
    Outcome,
    RequirementStatus,
    TraceMatrix,
    evidence_cell,
    evidence_of,
    short_of_needs,
)

_JUNIT_NAME = re.compile(r"^junit[-_](?P<label>.+)\.xml$")


@dataclass(frozen=True)
class RunFile:
    """One JUnit file and the backend (or run) label it stands for."""

    label: str
    path: Path


def label_for(path: Path) -> str:
    """``reports/junit-duckdb.xml`` → ``duckdb``; any other name → its stem."""
    match = _JUNIT_NAME.match(path.name)
    return match.group("label") if match else path.stem


def parse_run_file(spec: str) -> RunFile:
    """``LABEL=PATH`` or ``PATH`` (label from the file name)."""
    if "=" in spec:
        label, _, raw = spec.partition("=")
        return RunFile(label, Path(raw))
    path = Path(spec)
    return RunFile(label_for(path), path)


# A <testcase>'s child element and the outcome it means.
_JUNIT_OUTCOMES = {
    "failure": Outcome.FAILED,
    "error": Outcome.ERROR,
    "skipped": Outcome.SKIPPED,
}


def read_junit(run: RunFile) -> TraceMatrix:
    """The outcomes of one JUnit file as a trace matrix.

    Raises:
        ConfigError: the file is missing or not JUnit XML.
    """
    try:
        root = ET.parse(run.path).getroot()  # noqa: S314
    except FileNotFoundError:
        raise ConfigError(str(run.path), "file not found.") from None
    except ET.ParseError as exc:
        raise ConfigError(str(run.path), f"not valid XML ({exc}).") from None
    if root.tag not in {"testsuites", "testsuite"}:
        raise ConfigError(str(run.path), f"not a JUnit file (root element <{root.tag}>).")
    matrix = TraceMatrix()
    for case in root.iter("testcase"):
        props = [(p.get("name"), p.get("value", "")) for p in case.iter("property")]
        ids = [value for name, value in props if name == "requirement"]
        level = next((value for name, value in props if name == "evidence"), UNSTATED)
        nodeid = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, reason = Outcome.PASSED, ""
        for child in case:
            if child.tag in _JUNIT_OUTCOMES:
                outcome, reason = _JUNIT_OUTCOMES[child.tag], child.get("message", "")
        matrix.record(nodeid, ids, outcome, reason, level)
    return matrix


def merge(
    runs: list[RunFile],
    user_titles: dict[str, str] | None = None,
    user_needs: dict[str, str] | None = None,
) -> dict[str, object]:
    """One matrix: for each requirement, each run's status for it, the strongest evidence that
    passed in any run, the levels that only skipped (in every run) and the level it needs.

    Args:
        runs: the JUnit files.
        user_titles: a user's registry (``--requirements``). Without it the rows are our
            SPEC's requirements; with it, the user's, then any other ID a run claims, and ours
            only where a run claims them.
        user_needs: the levels the user's registry says its requirements need.
    """
    labels = [run.label for run in runs]
    matrices = {run.label: read_junit(run) for run in runs}
    if user_titles is None:
        titles = registry()
    else:
        claimed = [
            rid for m in matrices.values() for t in m.tests.values() for rid in t.requirements
        ]
        titles = dict(user_titles)
        for rid in claimed:
            titles.setdefault(rid, registry().get(rid, ""))
    levels_needed = {**needs(), **(user_needs or {})}
    per_run = {
        label: TraceMatrix(tests=matrix.tests, titles=titles).as_dict()
        for label, matrix in matrices.items()
    }
    rows = []
    for rid, title in titles.items():
        statuses: dict[str, str] = {}
        for label in labels:
            reqs = per_run[label]["requirements"]
            assert isinstance(reqs, list)
            row = next(r for r in reqs if r["id"] == rid)
            statuses[label] = row["status"]
        proven_by = [
            label for label, status in statuses.items() if status == RequirementStatus.PASSED
        ]
        outcomes = [
            (t.outcome, t.evidence)
            for m in matrices.values()
            for t in m.tests.values()
            if rid in t.requirements
        ]
        rows.append(
            {
                "id": rid,
                "title": title,
                "runs": statuses,
                "proven_by": proven_by,
                "needs": levels_needed.get(rid),
                **evidence_of(outcomes),
            }
        )
    return {
        "runs": labels,
        "levels": list(LEVELS),
        "requirements": rows,
        "below_needed_evidence": short_of_needs(rows),
    }


def to_markdown(data: dict[str, object]) -> str:
    labels = data["runs"]
    rows = data["requirements"]
    assert isinstance(labels, list)
    assert isinstance(rows, list)
    head = "| requirement | title | evidence | needs | skipped only | " + " | ".join(labels) + " |"
    sep = "|---|---|---|---|---|" + "---|" * len(labels)
    lines = ["# Compliance matrix", "", _LEGEND, "", head, sep]
    for row in rows:
        cells = " | ".join(row["runs"][label] for label in labels)
        lines.append(
            f"| {row['id']} | {row['title']} | {evidence_cell(row)} | {row['needs'] or '—'} "
            f"| {', '.join(row['skipped_only']) or '—'} | {cells} |"
        )
    return "\n".join(lines) + "\n"


_LEGEND = (
    "Evidence, weakest first: " + " < ".join(LEVELS) + ". *evidence*: the strongest level of "
    "a passing test in any run; *skipped only*: levels whose tests all skipped; *unstated*: a "
    "test with no level."
)

_HTML_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1b1b1b; }
h1 { font-size: 1.4em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #c8c8c8; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.passed { background: #d9f2d9; } td.failed { background: #f7d4d4; }
td.skipped { background: #fcefc7; } td.untested { color: #777; }
td.short { background: #f7d4d4; }
"""


def to_html(data: dict[str, object]) -> str:
    """The matrix as one self-contained HTML page: inline style, no script, no external
    resource (a compliance reader opens it offline, or attaches it to an audit)."""
    from html import escape

    labels = data["runs"]
    rows = data["requirements"]
    assert isinstance(labels, list)
    assert isinstance(rows, list)
    proven = sum(1 for row in rows if row["proven_by"])
    head = "".join(f"<th>{escape(str(label))}</th>" for label in labels)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{escape(row["runs"][label])}">{escape(row["runs"][label])}</td>'
            for label in labels
        )
        need = row["needs"]
        short = ' class="short"' if need and below(row["evidence"], need) else ""
        evidence = (
            f"<td{short}>{escape(evidence_cell(row))}</td><td>{escape(need or '—')}</td>"
            f"<td>{escape(', '.join(row['skipped_only']) or '—')}</td>"
        )
        body.append(
            f"<tr><td>{escape(row['id'])}</td><td>{escape(row['title'])}</td>{evidence}{cells}</tr>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Compliance matrix</title>\n"
        f"<style>{_HTML_STYLE}</style>\n</head>\n<body>\n<h1>Compliance matrix</h1>\n"
        f'<p id="summary">{proven} of {len(rows)} requirements proven by at least one run '
        f"({len(labels)} run{'' if len(labels) == 1 else 's'}).</p>\n"
        f'<p id="legend">{escape(_LEGEND.replace("*", ""))}</p>\n'
        "<table>\n<thead><tr><th>requirement</th><th>title</th><th>evidence</th><th>needs</th>"
        f"<th>skipped only</th>{head}</tr></thead>\n"
        f"<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>\n</body>\n</html>\n"
    )


def write(
    data: dict[str, object],
    json_path: Path | None,
    md_path: Path | None,
    html_path: Path | None = None,
) -> None:
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if md_path is not None:
        md_path.parent.mkdir(parents=True, exist_ok=True)
        md_path.write_text(to_markdown(data), encoding="utf-8")
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(to_html(data), encoding="utf-8")
