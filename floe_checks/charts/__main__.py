"""``python -m floe_checks.charts vendor-dagster CHART_DIR --mirror DIR``: the air-gapped
``helm dependency build`` of floe-dagster (docs/charts.md, "Air-gapped install")."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from floe_checks.errors import FloeError


def main(argv: list[str] | None = None) -> int:
    """Vendor the Dagster chart from a mirror into a floe-dagster chart directory."""
    parser = argparse.ArgumentParser(prog="python -m floe_checks.charts")
    sub = parser.add_subparsers(dest="command", required=True)
    vendor = sub.add_parser(
        "vendor-dagster",
        help="helm dependency build of floe-dagster from an air-gapped mirror, with the "
        "chart's schema $refs inlined from <mirror>/schemas",
    )
    vendor.add_argument("chart_dir", type=Path, help="e.g. charts/floe-dagster")
    vendor.add_argument("--mirror", type=Path, required=True, help="index.yaml, archive, schemas/")
    args = parser.parse_args(argv)

    from floe_checks.charts.render import vendor_dagster

    try:
        archive = vendor_dagster(args.chart_dir, args.mirror)
    except FloeError as exc:  # ChartError, PrerequisiteMissing (no helm)
        print(f"error: {exc}\nfix: {exc.remediation}", file=sys.stderr)
        return 1
    print(f"vendored {archive} (schema $refs local)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
