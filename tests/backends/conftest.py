"""Fixtures of the backend tests: one small demo lake per xdist worker.

``small_lake`` — a temporary Iceberg catalog (SQLite + local files) holding
:data:`~tests.backends.demo_build.BATCHES` generated batches, and those raw tables read back
(the input of the independent mart computation).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.demo_build import Lake, make_lake


@pytest.fixture(scope="session")
def small_lake() -> Iterator[Lake]:
    """A temp lake of a few small batches, removed at the end of the session."""
    root = Path(tempfile.mkdtemp(prefix="floe-backend-lake-"))
    try:
        yield make_lake(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
