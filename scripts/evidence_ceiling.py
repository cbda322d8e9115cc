"""Print the README's evidence table: for each requirement of our registry, the strongest
evidence level among the collected tests that claim it, next to the level it needs.

It collects (``pytest --collect-only``), it does not run: the level shown is the ceiling a
fully green run reaches; a run where those tests skip reaches less, which ``--floe-trace``
(``reports/trace.md`` of ``scripts/test.sh``) shows.

Usage: ``.venv/bin/python scripts/evidence_ceiling.py [PYTEST ARGS]`` (default: the
repository's testpaths, what ``scripts/test.sh`` runs).
"""

from __future__ import annotations

import sys

import pytest

from floe_checks.evidence import Evidence, below, ordered, strongest
from floe_checks.plugin import item_evidence, requirement_ids
from floe_checks.requirements import needs, registry


class Ceiling:
    def __init__(self) -> None:
        self.levels: dict[str, list[str]] = {}
        self.problems: list[str] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            evidence = item_evidence(item)
            if not isinstance(evidence, Evidence):
                self.problems.append(f"{item.nodeid}: {evidence}")
                continue
            for rid in requirement_ids(item):
                self.levels.setdefault(rid, []).append(evidence.level)


def main(args: list[str]) -> int:
    ceiling = Ceiling()
    code = pytest.main(
        ["--collect-only", "-q", "-p", "no:cacheprovider", *(args or ["tests", "e2e"])],
        plugins=[ceiling],
    )
    print("| requirement | title | needs | strongest level claimed | levels claimed | tests |")
    print("|---|---|---|---|---|---|")
    for rid, title in registry().items():
        levels = ceiling.levels.get(rid, [])
        top, need = strongest(levels), needs()[rid]
        cell = "— (no test)" if top is None else top
        if below(top, need):
            cell = f"**{cell}** (below {need})"
        every = ", ".join(ordered(levels)) or "—"
        print(f"| {rid} | {title} | {need} | {cell} | {every} | {len(levels)} |")
    for problem in ceiling.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
