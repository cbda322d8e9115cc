"""``floe demo …``: the live demo (``up``, ``trigger``, ``status``, ``down``) and ``generate``.

``up``/``trigger``/``status``/``down`` run the local stack as a live demo
(:mod:`floe_checks.stack.live`; 007-FR-025, FR-026, FR-026a, FR-030). ``generate`` appends
synthetic batches to the demo's Iceberg catalog (FR-026a); its catalog, namespace, defect rates
and Postgres target come from the FLOE_DEMO_* and FLOE_WAREHOUSE_* environment variables
(docs/demo.md), the options override the rest.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from floe_checks.stack.live import LiveDemo


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

    up = demo_sub.add_parser(
        "up",
        help="start the local stack as a live demo and stay until Ctrl-C",
        description=(
            "Start PostgreSQL, Dagster (with the demo's schedule), Cube and the live page on "
            "free loopback ports, launch a first batch, print the URLs and stay in the "
            "foreground until Ctrl-C, which stops everything. One demo per state folder "
            "(FLOE_DEMO_STATE_DIR, else $XDG_STATE_HOME/floe-checks/demo)."
        ),
    )
    up.add_argument(
        "--rate",
        choices=("burst", "realistic"),
        default="burst",
        help="burst: each batch now; realistic: intraday-shaped windows (default burst)",
    )
    up.add_argument(
        "--interval",
        default="5m",
        help="how often the schedule adds a batch: 1m..60m dividing an hour, 1h..12h "
        "dividing a day, or 1d (default 5m)",
    )
    up.add_argument("--orders", type=int, default=300, metavar="N", help="orders per batch")
    up.add_argument("--open", action="store_true", help="open the live page in a browser")
    up.add_argument(
        "--detach", action="store_true", help="run in the background; stop with floe demo down"
    )
    up.add_argument(
        "--no-first-batch", action="store_true", help="wait for the schedule's first tick"
    )
    up.set_defaults(func=_up)

    trigger = demo_sub.add_parser(
        "trigger", help="run one more batch now and show how Cube's totals moved"
    )
    trigger.add_argument("--orders", type=int, default=None, metavar="N", help="orders")
    trigger.set_defaults(func=_trigger)

    status = demo_sub.add_parser(
        "status", help="what runs, the last batches, the next tick, Cube's totals"
    )
    status.set_defaults(func=_status)

    down = demo_sub.add_parser("down", help="stop the demo started by floe demo up")
    down.set_defaults(func=_down)

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


def _live(args: argparse.Namespace, action: str) -> int:
    """Run one live-demo action; a usage or stack error is one line on stderr, no traceback."""
    import sys

    from floe_checks.errors import FloeError, UsageError
    from floe_checks.stack.live import DemoOptions, LiveDemo

    demo = LiveDemo()
    try:
        if action == "up":
            options = DemoOptions(rate=args.rate, interval=args.interval, orders=args.orders)
            if args.detach:
                argv = ["demo", "up", "--rate", args.rate, "--interval", args.interval]
                argv += ["--orders", str(args.orders)]
                if args.no_first_batch:
                    argv.append("--no-first-batch")
                code = demo.up_detached(options, argv, sys.stdout)
            else:
                if args.open:
                    _open_when_running(demo)
                code = demo.up(options, sys.stdout, first_batch=not args.no_first_batch)
            if code == 0 and args.open and args.detach:
                _open_page(demo)
            return code
        if action == "trigger":
            return demo.trigger(sys.stdout, orders=args.orders)
        if action == "status":
            return demo.status(sys.stdout)
        return demo.down(sys.stdout)
    except UsageError as exc:
        print(f"floe demo {action}: {exc.message}. Fix: {exc.remediation}", file=sys.stderr)
        return 2
    except FloeError as exc:
        fix = f" Fix: {exc.remediation}" if exc.remediation else ""
        print(f"floe demo {action}: {exc.message}.{fix}", file=sys.stderr)
        return 1


def _open_page(demo: LiveDemo) -> None:
    import webbrowser

    state = demo.read_state()
    if state and state.get("urls"):
        webbrowser.open(state["urls"]["page"])


def _open_when_running(demo: LiveDemo) -> None:
    """Open the page from a helper thread once the foreground ``up`` writes ``running``."""
    import threading

    from floe_checks.polling import wait_until

    def wait_and_open() -> None:
        def running() -> bool:
            state = demo.read_state()
            return bool(state and state.get("phase") == "running")

        if wait_until(running, timeout=1200, interval=0.5):
            _open_page(demo)

    threading.Thread(target=wait_and_open, daemon=True).start()


def _up(args: argparse.Namespace) -> int:
    return _live(args, "up")


def _trigger(args: argparse.Namespace) -> int:
    return _live(args, "trigger")


def _status(args: argparse.Namespace) -> int:
    return _live(args, "status")


def _down(args: argparse.Namespace) -> int:
    return _live(args, "down")
