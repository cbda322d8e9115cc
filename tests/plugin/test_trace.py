"""The trace matrix's outcomes are a StrEnum (issue 18.4): one vocabulary, ranked, documented."""

from __future__ import annotations

import enum
import json
from pathlib import Path

import pytest

from floe_checks import trace
from floe_checks.trace import Outcome, RequirementStatus, TraceMatrix


def test_outcomes_are_a_documented_strenum_in_rank_order() -> None:
    assert issubclass(Outcome, enum.StrEnum)
    assert [str(o) for o in Outcome] == ["passed", "skipped", "failed", "error"]
    assert [o.rank for o in Outcome] == [0, 1, 2, 3]
    assert "worst one wins" in (Outcome.__doc__ or "")
    assert issubclass(RequirementStatus, enum.StrEnum)
    assert [str(s) for s in RequirementStatus] == ["passed", "skipped", "failed", "untested"]


def test_the_worst_phase_wins() -> None:
    test = trace.TestOutcome("t::a", ["SC-004"])
    test.merge("skipped", "no server")
    test.merge(Outcome.PASSED)
    assert (test.outcome, test.reason) == (Outcome.SKIPPED, "no server")
    test.merge(Outcome.ERROR, "teardown failed")
    test.merge(Outcome.FAILED, "call failed")
    assert (test.outcome, test.reason) == (Outcome.ERROR, "teardown failed")


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="'xfailed' is not a valid Outcome"):
        TraceMatrix().record("t::a", ["SC-004"], "xfailed")


def test_the_written_matrix_shows_the_values(tmp_path: Path) -> None:
    matrix = TraceMatrix(titles={"SC-004": "four", "SC-005": "five"}, needs={})
    matrix.record("t::a", ["SC-004"], Outcome.PASSED)
    matrix.record("t::a", ["SC-004"], "error", "teardown failed")
    json_path, md_path = matrix.write(tmp_path / "trace.json")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert [(r["id"], r["status"]) for r in data["requirements"]] == [
        ("SC-004", "failed"),
        ("SC-005", "untested"),
    ]
    assert data["requirements"][0]["tests"] == [
        {
            "nodeid": "t::a",
            "outcome": "error",
            "reason": "teardown failed",
            "evidence": "unstated",
        }
    ]
    assert "`t::a` error [unstated] (teardown failed)" in md_path.read_text(encoding="utf-8")
