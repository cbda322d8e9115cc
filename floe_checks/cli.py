"""The ``floe`` command. Each subcommand lives in its own module under ``floe_checks.commands``
and exposes ``register(subparsers)``; heavy imports happen only when a command runs."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from floe_checks import __version__

# Subcommand modules, in the order `floe --help` lists them.
COMMANDS = ("preflight", "demo", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="floe",
        description="floe-checks: preflight, demo and compliance tools for floe-runtime.",
    )
    parser.add_argument("--version", action="version", version=f"floe-checks {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"floe_checks.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"floe_checks.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``floe`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
