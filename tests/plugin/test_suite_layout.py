"""Fixtures reach test modules through conftest.py or ``pytest_plugins``, never by import.

A fixture imported into a test module must be kept alive with ``__all__`` (or a noqa), is
registered once per importing module, and hides where it comes from (issue 18.5). The shared
ones are registered by the root conftest (``tests/conftest.py``'s ``pytest_plugins``).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def _test_modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if p.is_file())


def _fixtures_of(module: str) -> set[str]:
    """The fixture functions a module of ours defines, read from its source (no import: a
    test helper may need markers or servers at import)."""
    path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        return set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Attribute) and target.attr == "fixture":
                    names.add(node.name)
    return names


def imported_fixtures(path: Path) -> list[str]:
    """``module.name`` of every pytest fixture a test module imports from our own tests."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tests."):
            fixtures = _fixtures_of(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names if a.name in fixtures]
    return found


def test_no_test_module_imports_a_fixture() -> None:
    found = {
        str(path.relative_to(ROOT)): names
        for path in _test_modules()
        for names in [imported_fixtures(path)]
        if names
    }
    assert found == {}


def test_no_test_module_keeps_imports_alive_with_all() -> None:
    with_all = [
        str(path.relative_to(ROOT))
        for path in [*_test_modules(), *TESTS.rglob("conftest.py")]
        if "\n__all__ = " in path.read_text(encoding="utf-8")
    ]
    assert with_all == []


def test_the_emulator_fixtures_are_registered_by_the_root_conftest() -> None:
    conftest = importlib.import_module("tests.conftest")
    assert conftest.pytest_plugins == ["tests.preflight.cloud_emulators", "tests.trino.shared"]


def test_the_import_check_sees_an_imported_fixture(tmp_path: Path) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(
        "from tests.preflight.cloud_emulators import Emulator, gcs_server\n", encoding="utf-8"
    )
    assert imported_fixtures(module) == ["tests.preflight.cloud_emulators.gcs_server"]
