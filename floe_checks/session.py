"""What one pytest session of floe-checks keeps, shared by the top plugin and its sub-plugins.

The top plugin (:mod:`floe_checks.plugin`) loads the selected environment and builds its
scrubber at session start and stores both here, in pytest's ``config.stash``; the sub-plugins
(:mod:`floe_checks.preflight.plugin`, :mod:`floe_checks.preflight.fixtures`,
:mod:`floe_checks.stack.plugin`) and the bundled checks read them through this module. So no
module imports the top plugin: it sits above everything, and ``tests/plugin/test_layers.py``
keeps it there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from floe_checks.config import Environment
    from floe_checks.preflight.scrub import Scrubber

ENV_KEY = pytest.StashKey["Environment | None"]()
SCRUB_KEY = pytest.StashKey["Scrubber"]()


def selected_environment(config: pytest.Config) -> Environment | None:
    """The environment this run checks, or None when none was selected (or before the session
    started)."""
    return config.stash.get(ENV_KEY, None)


def scrubber_of(config: pytest.Config) -> Scrubber | None:
    """The scrubber of this run (None before the environment is loaded or without one)."""
    return config.stash.get(SCRUB_KEY, None)
