"""``python -m floe_checks.charts``: the air-gapped install steps of docs/charts.md.

* ``schema-documents ARCHIVE`` — the remote documents a chart archive's schemas refer to (to
  download where the internet is reachable, into ``<mirror>/schemas/<host>/<path>``);
* ``vendor-dagster CHART_DIR --mirror DIR`` — ``helm dependency build`` of floe-dagster from the
  mirror, the vendored chart's schema ``$ref`` documents inlined from ``<mirror>/schemas``;
* ``registry-values --registry R [--chart DIR] [-f VALUES ...] [--check OVERLAY]`` — the values
  overlay that puts every image of a release (floe's and the Dagster chart's, run pods
  included) under ``R``; with ``--check``, whether a committed overlay is still that.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path

from floe_checks.errors import FloeError


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; errors are printed with their fix, exit code 1."""
    parser = argparse.ArgumentParser(prog="python -m floe_checks.charts")
    sub = parser.add_subparsers(dest="command", required=True)
    docs = sub.add_parser(
        "schema-documents", help="list the remote documents a chart archive's schemas refer to"
    )
    docs.add_argument("archive", type=Path, help="a chart archive (.tgz)")
    vendor = sub.add_parser(
        "vendor-dagster",
        help="helm dependency build of floe-dagster from an air-gapped mirror, with the "
        "chart's schema $refs inlined from <mirror>/schemas",
    )
    vendor.add_argument("chart_dir", type=Path, help="e.g. charts/floe-dagster")
    vendor.add_argument("--mirror", type=Path, required=True, help="index.yaml, archive, schemas/")
    reg = sub.add_parser(
        "registry-values",
        help="write a values overlay that puts every image of the release under one registry",
    )
    reg.add_argument("--registry", required=True, help="e.g. registry.example.com[/path]")
    reg.add_argument(
        "--chart",
        type=Path,
        default=Path("charts/floe-runtime"),
        help="the chart directory (default: charts/floe-runtime)",
    )
    reg.add_argument(
        "-f",
        "--values",
        dest="values",
        type=Path,
        action="append",
        default=[],
        help="a values file of the release, in helm's order (repeatable)",
    )
    reg.add_argument(
        "--check",
        type=Path,
        metavar="OVERLAY",
        help="compare with a committed overlay instead of writing one; exit 1 if it differs",
    )
    args = parser.parse_args(argv)

    if args.command == "schema-documents":
        from floe_checks.charts.schemas import archive_remote_documents

        try:
            documents = archive_remote_documents(args.archive)
        except (OSError, tarfile.TarError, json.JSONDecodeError) as exc:
            print(f"error: {args.archive}: {exc}", file=sys.stderr)
            return 1
        print("\n".join(documents))
        return 0

    if args.command == "registry-values":
        from floe_checks.charts.registry import check_overlay, overlay_yaml

        command = " ".join(
            ["python -m floe_checks.charts registry-values", f"--registry {args.registry}"]
            + [f"--chart {args.chart}"]
            + [f"-f {v}" for v in args.values]
        )
        try:
            if args.check is not None:
                check_overlay(args.check, args.registry, args.chart, args.values, command)
            else:
                sys.stdout.write(overlay_yaml(args.registry, args.chart, args.values, command))
        except FloeError as exc:
            print(f"error: {exc}\nfix: {exc.remediation}", file=sys.stderr)
            return 1
        return 0

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
