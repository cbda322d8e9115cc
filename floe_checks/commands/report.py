"""``floe report``: merge JUnit files of several runs into one compliance matrix."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="merge JUnit files from several runs into one requirement matrix",
        description=(
            "Merge JUnit XML files (one per tox env or backend) into one traceability matrix: "
            "requirement → run → outcome, with the strongest evidence level that passed, the "
            "levels that only skipped and the level the registry says it needs. A file's label "
            "comes from its name (junit-duckdb.xml → duckdb) or from LABEL=PATH."
        ),
    )
    parser.add_argument("junit", nargs="+", metavar="[LABEL=]PATH", help="JUnit XML files")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the matrix as JSON")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="write it as Markdown")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="PATH",
        help="write it as one self-contained HTML page (no scripts, no external resources)",
    )
    parser.add_argument(
        "--requirements",
        type=Path,
        metavar="PATH",
        action="append",
        default=[],
        help="your registry (YAML, lines of ID: title): list your requirements, and ours only "
        "where a run claims them (repeatable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from floe_checks import compliance
    from floe_checks.errors import ConfigError

    runs = [compliance.parse_run_file(spec) for spec in args.junit]
    labels = [r.label for r in runs]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        print(
            f"floe report: run label(s) used twice: {', '.join(duplicates)}. "
            "Fix: name them with LABEL=PATH.",
            file=sys.stderr,
        )
        return 2
    from floe_checks.requirements import load_registry_entries

    try:
        user_titles: dict[str, str] | None = None
        user_needs: dict[str, str] = {}
        for path in args.requirements:
            entries = load_registry_entries(path, "--requirements")
            user_titles = {**(user_titles or {}), **entries.titles}
            user_needs.update(entries.needs)
        data = compliance.merge(runs, user_titles, user_needs)
    except ConfigError as exc:
        print(f"floe report: {exc}", file=sys.stderr)
        return 2
    compliance.write(data, args.json, args.markdown, args.html)
    if args.json is None and args.markdown is None and args.html is None:
        sys.stdout.write(compliance.to_markdown(data))
    return 0
