"""The requirement traceability matrix: requirement → tests → outcome.

Plain Python: the plugin feeds it test outcomes; ``floe report`` can feed it JUnit files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from floe_checks.requirements import registry

# Worst outcome wins when a test has several phases (setup, call, teardown).
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


@dataclass
class TestOutcome:
    nodeid: str
    requirements: list[str]
    outcome: str = "passed"
    reason: str = ""

    def merge(self, outcome: str, reason: str = "") -> None:
        """Fold one phase's outcome into the test's."""
        if _RANK[outcome] > _RANK[self.outcome]:
            self.outcome = outcome
            self.reason = reason


@dataclass
class TraceMatrix:
    """Requirement IDs (all of the registry, in SPEC order) with the tests that claim them."""

    tests: dict[str, TestOutcome] = field(default_factory=dict)
    # The registry's rows; None: ours. ``claimed_only`` IDs appear only when a test claims them
    # (our IDs in a user's repository: only when the bundled checks ran).
    titles: dict[str, str] | None = None
    claimed_only: frozenset[str] = frozenset()

    def _rows(self) -> dict[str, str]:
        titles = registry() if self.titles is None else self.titles
        claimed = {rid for t in self.tests.values() for rid in t.requirements}
        return {
            rid: title
            for rid, title in titles.items()
            if rid not in self.claimed_only or rid in claimed
        }

    def size(self) -> int:
        """How many requirements the matrix lists."""
        return len(self._rows())

    def record(
        self, nodeid: str, requirements: Iterable[str], outcome: str, reason: str = ""
    ) -> None:
        test = self.tests.get(nodeid)
        if test is None:
            test = self.tests[nodeid] = TestOutcome(nodeid, list(requirements), outcome, reason)
        else:
            test.merge(outcome, reason)

    def as_dict(self) -> dict[str, object]:
        rows = []
        for rid, title in self._rows().items():
            tests = [t for t in self.tests.values() if rid in t.requirements]
            rows.append(
                {
                    "id": rid,
                    "title": title,
                    "status": _requirement_status(tests),
                    "tests": [
                        {"nodeid": t.nodeid, "outcome": t.outcome, "reason": t.reason}
                        for t in sorted(tests, key=lambda t: t.nodeid)
                    ],
                }
            )
        untested = [r["id"] for r in rows if not r["tests"]]
        unproven = [r["id"] for r in rows if r["status"] != "passed"]
        return {
            "requirements": rows,
            "summary": {
                "requirements": len(rows),
                "untested": untested,
                "without_passing_test": unproven,
            },
        }

    def unproven(self) -> list[str]:
        """Requirements that no passing test proves."""
        data = self.as_dict()["summary"]
        assert isinstance(data, dict)
        return list(data["without_passing_test"])

    def write(self, path: Path) -> tuple[Path, Path]:
        """Write JSON at ``path`` and Markdown beside it (same stem, ``.md``)."""
        data = self.as_dict()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        md = path.with_suffix(".md")
        md.write_text(to_markdown(data), encoding="utf-8")
        return path, md


def _requirement_status(tests: list[TestOutcome]) -> str:
    if not tests:
        return "untested"
    outcomes = {t.outcome for t in tests}
    if outcomes & {"failed", "error"}:
        return "failed"
    if "passed" in outcomes:
        return "passed"
    return "skipped"


def to_markdown(data: dict[str, object]) -> str:
    """Render the matrix as a Markdown table, one row per requirement."""
    lines = [
        "# Requirement traceability",
        "",
        "| requirement | title | status | tests |",
        "|---|---|---|---|",
    ]
    rows = data["requirements"]
    assert isinstance(rows, list)
    for row in rows:
        tests = (
            "<br>".join(
                f"`{t['nodeid']}` {t['outcome']}" + (f" ({t['reason']})" if t["reason"] else "")
                for t in row["tests"]
            )
            or "—"
        )
        lines.append(f"| {row['id']} | {row['title']} | {row['status']} | {tests} |")
    return "\n".join(lines) + "\n"
