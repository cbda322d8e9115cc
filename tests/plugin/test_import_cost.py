"""Importing the plugin must stay cheap: pytest loads it in every session of every user."""

from __future__ import annotations

import subprocess
import sys

import pytest

from floe_checks.plugin import HEAVY_MODULES

pytestmark = pytest.mark.evidence("static")


@pytest.mark.requirement("SC-010")
def test_plugin_import_pulls_no_heavy_module() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import floe_checks.plugin, floe_checks.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "floe_checks" in imported  # the measurement saw our own import
    assert sorted(imported & set(HEAVY_MODULES)) == []
