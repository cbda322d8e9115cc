"""Dagster code location of the demo: ``defs``, built from the environment variables.

Load with ``dagster dev -m floe_demo.definitions`` (or ``-f demo/floe_demo/definitions.py``);
see :mod:`floe_demo.orchestration` for what it holds and docs/demo.md for the settings.
"""

from floe_demo.orchestration import build_definitions
from floe_demo.settings import DemoSettings

defs = build_definitions(DemoSettings.from_env())
