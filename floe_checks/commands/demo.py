"""``floe demo generate``: append synthetic batches to the demo's Iceberg catalog (FR-026a).

The catalog, namespace, defect rates and Postgres target come from the FLOE_DEMO_* and
FLOE_WAREHOUSE_* environment variables (docs/demo.md); the options override the rest.
"""

from __future__ import annotations

import argparse
from datetime import timedelta


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``floe demo …`` to the ``floe`` command."""
    demo = subparsers.add_parser("demo", help="drive the demo pipeline (synthetic data)")
    demo_sub = demo.add_subparsers(dest="demo_command", metavar="COMMAND")
    gen = demo_sub.add_parser(
        "generate",
        help="generate batches and append them to the configured Iceberg catalog",
        description=(
            "Generate e-commerce batches and append them to the Iceberg catalog of "
            "FLOE_DEMO_CATALOG_* (a local SQL catalog under FLOE_DEMO_HOME by default). "
            "With FLOE_DEMO_DBT_TARGET=postgres the new batches are also published to Postgres."
        ),
    )
    gen.add_argument("--batches", type=int, default=1, metavar="N", help="batches (default 1)")
    gen.add_argument(
        "--rate",
        choices=("burst", "realistic"),
        default=None,
        help="burst: N-order batches at ~1000 records/s; realistic: one intraday-shaped "
        "window per batch, ending now (default FLOE_DEMO_RATE, else burst)",
    )
    gen.add_argument("--orders", type=int, default=None, metavar="N", help="orders per batch")
    gen.add_argument("--seed", type=int, default=None, metavar="N", help="generator seed")
    gen.add_argument(
        "--no-publish",
        action="store_true",
        help="do not copy to Postgres even when FLOE_DEMO_DBT_TARGET=postgres",
    )
    gen.set_defaults(func=_generate)

    def show_help(_args: argparse.Namespace) -> int:
        demo.print_help()
        return 2

    demo.set_defaults(func=show_help)


def _generate(args: argparse.Namespace) -> int:
    import sys

    try:
        from floe_demo.generators.batches import utc_now
        from floe_demo.iceberg_loader import IcebergLoader
        from floe_demo.pipeline import ingest_ecommerce_batch
        from floe_demo.settings import DemoSettings, SettingsError
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("floe_"):
            raise
        print(
            f"floe demo generate: the demo extra is not installed (module {exc.name} is "
            "missing). Fix: pip install 'floe-checks[demo]'",
            file=sys.stderr,
        )
        return 2

    if args.batches < 1 or (args.orders is not None and args.orders < 1):
        print("floe demo generate: --batches and --orders must be at least 1", file=sys.stderr)
        return 2
    try:
        settings = DemoSettings.from_env()
    except SettingsError as exc:
        print(f"floe demo generate: {exc}", file=sys.stderr)
        return 2
    rate = args.rate or settings.rate
    loader = IcebergLoader.from_settings(settings)
    where = settings.polaris_uri if settings.catalog_type == "rest" else settings.catalog_uri
    print(f"catalog {settings.catalog_type} {where}, namespace {settings.namespace}")
    # Realistic batches are consecutive windows that end now; burst batches all end now.
    step = timedelta(minutes=settings.window_minutes)
    now = utc_now()
    total = 0
    for n in range(args.batches):
        window_end = now - step * (args.batches - 1 - n) if rate == "realistic" else None
        report = ingest_ecommerce_batch(
            settings,
            loader=loader,
            rate=rate,
            orders=args.orders,
            seed=args.seed,
            window_end=window_end,
            publish=False if args.no_publish else None,
        )
        counts = ", ".join(f"{a.table} {a.rows}" for a in report.appended)
        print(f"appended batch {report.spec.batch_id}: {counts} ({report.seconds:.2f} s)")
        if report.published:
            copied = sum(p.rows for p in report.published)
            print(f"  published {copied} rows to Postgres schema {settings.namespace}")
        total += report.total_rows
    print(f"appended {total} rows in {args.batches} batch(es)")
    return 0
