"""Merge JUnit XML files from several runs (tox envs, backends) into one requirement matrix:
requirement → backend → outcome. Reads the ``requirement`` properties the plugin writes."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from floe_checks.errors import ConfigError
from floe_checks.requirements import registry
from floe_checks.trace import TraceMatrix

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
        ids = [p.get("value", "") for p in case.iter("property") if p.get("name") == "requirement"]
        nodeid = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, reason = "passed", ""
        for child in case:
            if child.tag == "failure":
                outcome, reason = "failed", child.get("message", "")
            elif child.tag == "error":
                outcome, reason = "error", child.get("message", "")
            elif child.tag == "skipped":
                outcome, reason = "skipped", child.get("message", "")
        matrix.record(nodeid, ids, outcome, reason)
    return matrix


def merge(runs: list[RunFile]) -> dict[str, object]:
    """One matrix: for each requirement of the SPEC, each run's status for it."""
    labels = [run.label for run in runs]
    per_run = {run.label: read_junit(run).as_dict() for run in runs}
    rows = []
    for rid, title in registry().items():
        statuses: dict[str, str] = {}
        for label in labels:
            reqs = per_run[label]["requirements"]
            assert isinstance(reqs, list)
            row = next(r for r in reqs if r["id"] == rid)
            statuses[label] = row["status"]
        proven_by = [label for label, status in statuses.items() if status == "passed"]
        rows.append({"id": rid, "title": title, "runs": statuses, "proven_by": proven_by})
    return {"runs": labels, "requirements": rows}


def to_markdown(data: dict[str, object]) -> str:
    labels = data["runs"]
    rows = data["requirements"]
    assert isinstance(labels, list)
    assert isinstance(rows, list)
    head = "| requirement | title | " + " | ".join(labels) + " |"
    sep = "|---|---|" + "---|" * len(labels)
    lines = ["# Compliance matrix", "", head, sep]
    for row in rows:
        cells = " | ".join(row["runs"][label] for label in labels)
        lines.append(f"| {row['id']} | {row['title']} | {cells} |")
    return "\n".join(lines) + "\n"


def write(data: dict[str, object], json_path: Path | None, md_path: Path | None) -> None:
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if md_path is not None:
        md_path.parent.mkdir(parents=True, exist_ok=True)
        md_path.write_text(to_markdown(data), encoding="utf-8")
