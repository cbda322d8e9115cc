"""Check modules bundled with the plugin; collected whenever a floe environment is selected."""

from pathlib import Path

# The folder of the bundled check modules: the plugin adds it to a run's arguments, and
# `floe preflight` passes it to pytest.
CHECKS_DIR = Path(__file__).parent
