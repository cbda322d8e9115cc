"""The requirement traceability matrix: requirement → tests → outcome, with the evidence level
of each test (:mod:`floe_checks.evidence`): per requirement the strongest level that passed,
the levels that only skipped, and the level the registry says it needs.

Plain Python: the plugin feeds it test outcomes; ``floe report`` can feed it JUnit files.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from floe_checks.evidence import LEVELS, UNSTATED, below, ordered, strongest
from floe_checks.requirements import needs, registry


class Outcome(enum.StrEnum):
    """How one test ended, as the matrix records it (pytest's words, JUnit's elements).

    A test has several phases (setup, call, teardown) and the worst one wins; the members are
    listed best first, so that their order is that rank. ``error`` is a failure outside the
    test's call (a fixture's setup or teardown); a JUnit ``<error>`` maps to it, ``<failure>``
    to ``failed``. As a StrEnum each member is its string: JSON and Markdown show the value.
    """

    PASSED = "passed"
    SKIPPED = "skipped"
    FAILED = "failed"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """0 for ``passed`` up to 3 for ``error``: the worse, the higher."""
        return list(Outcome).index(self)


class RequirementStatus(enum.StrEnum):
    """A requirement's status in the matrix, from the outcomes of the tests that claim it:
    ``failed`` when any failed or errored, else ``passed`` when any passed, else ``skipped``;
    ``untested`` when no test claims it."""

    PASSED = "passed"
    SKIPPED = "skipped"
    FAILED = "failed"
    UNTESTED = "untested"


@dataclass
class TestOutcome:
    """One test's outcome over its phases, with its requirement IDs and evidence level."""

    nodeid: str
    requirements: list[str]
    outcome: Outcome = Outcome.PASSED
    reason: str = ""
    evidence: str = UNSTATED

    def merge(self, outcome: Outcome | str, reason: str = "") -> None:
        """Fold one phase's outcome into the test's: the worse one wins."""
        phase = Outcome(outcome)
        if phase.rank > self.outcome.rank:
            self.outcome = phase
            self.reason = reason


@dataclass
class TraceMatrix:
    """Requirement IDs (all of the registry, in SPEC order) with the tests that claim them."""

    tests: dict[str, TestOutcome] = field(default_factory=dict)
    # The registry's rows; None: ours. ``claimed_only`` IDs appear only when a test claims them
    # (our IDs in a user's repository: only when the bundled checks ran).
    titles: dict[str, str] | None = None
    claimed_only: frozenset[str] = frozenset()
    # The level each requirement needs; None: ours.
    needs: dict[str, str] | None = None

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
        self,
        nodeid: str,
        requirements: Iterable[str],
        outcome: Outcome | str,
        reason: str = "",
        evidence: str = UNSTATED,
    ) -> None:
        """Record one phase of a test (a string must be an :class:`Outcome` value)."""
        test = self.tests.get(nodeid)
        if test is None:
            self.tests[nodeid] = TestOutcome(
                nodeid, list(requirements), Outcome(outcome), reason, evidence
            )
        else:
            test.merge(outcome, reason)

    def as_dict(self) -> dict[str, object]:
        rows = []
        levels_needed = needs() if self.needs is None else self.needs
        for rid, title in self._rows().items():
            tests = [t for t in self.tests.values() if rid in t.requirements]
            rows.append(
                {
                    "id": rid,
                    "title": title,
                    "status": _requirement_status(tests),
                    "needs": levels_needed.get(rid),
                    **evidence_of([(t.outcome, t.evidence) for t in tests]),
                    "tests": [
                        {
                            "nodeid": t.nodeid,
                            "outcome": t.outcome,
                            "reason": t.reason,
                            "evidence": t.evidence,
                        }
                        for t in sorted(tests, key=lambda t: t.nodeid)
                    ],
                }
            )
        untested = [r["id"] for r in rows if not r["tests"]]
        unproven = [r["id"] for r in rows if r["status"] != RequirementStatus.PASSED]
        return {
            "requirements": rows,
            "summary": {
                "requirements": len(rows),
                "untested": untested,
                "without_passing_test": unproven,
                "below_needed_evidence": short_of_needs(rows),
            },
        }

    def unproven(self) -> list[str]:
        """Requirements that no passing test proves."""
        data = self.as_dict()["summary"]
        assert isinstance(data, dict)
        return list(data["without_passing_test"])

    def short_of_needs(self) -> list[dict[str, str | None]]:
        """The requirements whose strongest passing evidence is below what they need."""
        data = self.as_dict()["summary"]
        assert isinstance(data, dict)
        return list(data["below_needed_evidence"])

    def write(self, path: Path) -> tuple[Path, Path]:
        """Write JSON at ``path`` and Markdown beside it (same stem, ``.md``)."""
        data = self.as_dict()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        md = path.with_suffix(".md")
        md.write_text(to_markdown(data), encoding="utf-8")
        return path, md


def evidence_of(outcomes: Iterable[tuple[Outcome | str, str]]) -> dict[str, object]:
    """A requirement's evidence from its tests' (outcome, level) pairs: the strongest level that
    passed (None: none passed) and the levels that only skipped, weakest first."""
    seen = list(outcomes)
    passed = {level for outcome, level in seen if outcome == Outcome.PASSED}
    skipped = {level for outcome, level in seen if outcome == Outcome.SKIPPED}
    return {"evidence": strongest(passed), "skipped_only": ordered(skipped - passed)}


def short_of_needs(rows: Iterable[dict[str, object]]) -> list[dict[str, str | None]]:
    """``{id, has, needs}`` of each row that needs a level its passing evidence does not reach
    (``has`` None: no test passed)."""
    short: list[dict[str, str | None]] = []
    for row in rows:
        need, has = row.get("needs"), row.get("evidence")
        if isinstance(need, str) and below(has if isinstance(has, str) else None, need):
            short.append(
                {"id": str(row["id"]), "has": has if isinstance(has, str) else None, "needs": need}
            )
    return short


def _requirement_status(tests: list[TestOutcome]) -> RequirementStatus:
    if not tests:
        return RequirementStatus.UNTESTED
    outcomes = {t.outcome for t in tests}
    if outcomes & {Outcome.FAILED, Outcome.ERROR}:
        return RequirementStatus.FAILED
    if Outcome.PASSED in outcomes:
        return RequirementStatus.PASSED
    return RequirementStatus.SKIPPED


def to_markdown(data: dict[str, object]) -> str:
    """Render the matrix as a Markdown table, one row per requirement."""
    lines = [
        "# Requirement traceability",
        "",
        "Evidence, weakest first: " + " < ".join(LEVELS) + ". *evidence*: the strongest level "
        "of a passing test; *skipped only*: levels whose tests all skipped; *unstated*: a test "
        "with no level.",
        "",
        "| requirement | title | status | evidence | needs | skipped only | tests |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = data["requirements"]
    assert isinstance(rows, list)
    for row in rows:
        tests = (
            "<br>".join(
                f"`{t['nodeid']}` {t['outcome']} [{t['evidence']}]"
                + (f" ({t['reason']})" if t["reason"] else "")
                for t in row["tests"]
            )
            or "—"
        )
        lines.append(
            f"| {row['id']} | {row['title']} | {row['status']} | {evidence_cell(row)} "
            f"| {row['needs'] or '—'} | {', '.join(row['skipped_only']) or '—'} | {tests} |"
        )
    return "\n".join(lines) + "\n"


def evidence_cell(row: dict[str, object]) -> str:
    """The evidence column: the strongest passing level, marked when below the need."""
    has, need = row.get("evidence"), row.get("needs")
    if not isinstance(has, str):
        return "—"
    if isinstance(need, str) and below(has, need):
        return f"{has} (below {need})"
    return has
