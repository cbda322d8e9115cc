"""One error hierarchy that owns its remediation (issue 18.2), read from the code itself.

* No raise site in ``floe_checks`` passes a literal ``remediation="…"`` (a string or f-string):
  a fix that is always the same belongs to a named class in :mod:`floe_checks.errors`.
* Every ``FloeError`` subclass of the package lives in ``floe_checks/errors.py`` and is drawn in
  its docstring, as httpx draws its hierarchy; the demo's errors are ``FloeError``s too.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from floe_checks import errors

PACKAGE = Path(__file__).resolve().parents[2] / "floe_checks"


def literal_remediations(source: str) -> list[int]:
    """Line numbers of calls that pass ``remediation=`` a string literal or an f-string (alone,
    parenthesised, or concatenated)."""

    def literal(node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        if isinstance(node, ast.JoinedStr):
            return True
        if isinstance(node, ast.BinOp):
            return literal(node.left) or literal(node.right)
        return False

    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "remediation" and literal(keyword.value)
    )


def test_no_literal_remediation_at_a_raise_site() -> None:
    found = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in ("errors.py", "failures.py")  # the two homes of remediation text
        for lines in [literal_remediations(path.read_text(encoding="utf-8"))]
        if lines
    }
    assert found == {}


def test_the_literal_check_can_fail() -> None:
    source = (
        "raise StackError('x', remediation='read the log')\n"
        "raise StackError('x', remediation=f'read {log}')\n"
        "raise StackError('x', remediation='a ' + which)\n"
        "raise StackError('x', remediation=fix)\n"
        "raise ServerFailed('x', log_path=log)\n"
    )
    assert literal_remediations(source) == [1, 2, 3]


def _package_error_classes() -> dict[str, str]:
    """Every class in floe_checks that derives from a FloeError class, by name: its module."""
    names = {name for name, obj in vars(errors).items() if inspect.isclass(obj)}
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id in names for base in node.bases
            ):
                found[node.name] = str(path.relative_to(PACKAGE))
    return found


def test_every_floe_error_class_lives_in_errors_py() -> None:
    elsewhere = {n: m for n, m in _package_error_classes().items() if m != "errors.py"}
    assert elsewhere == {}


def test_the_docstring_draws_every_class_of_the_hierarchy() -> None:
    doc = errors.__doc__ or ""
    classes = sorted(
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, errors.FloeError)
    )
    drawn = sorted(name for name in classes if f" {name} " in doc or f" {name}\n" in doc)
    assert drawn == classes


def test_cube_dagster_and_chart_errors_are_floe_errors() -> None:
    from floe_checks.charts.helm import find_helm  # noqa: F401 -- the module still imports
    from floe_checks.clients.cube import CubeError
    from floe_checks.clients.dagster import DagsterError

    assert CubeError is errors.CubeError
    assert DagsterError is errors.DagsterError
    assert errors.CubeError.__mro__[1:3] == (errors.StackError, errors.FloeError)
    assert errors.DagsterError.__mro__[1:3] == (errors.StackError, errors.FloeError)
    assert errors.ChartError.__mro__[1] is errors.FloeError
    assert errors.RegistryError.__mro__[1] is errors.ChartError


def test_the_demo_errors_are_floe_errors() -> None:
    from floe_demo.dbt_runner import DbtError
    from floe_demo.settings import DemoSettings, SettingsError

    assert issubclass(SettingsError, errors.FloeError)
    assert issubclass(SettingsError, ValueError)
    assert issubclass(DbtError, errors.FloeError)
    assert issubclass(DbtError, RuntimeError)
    with pytest.raises(SettingsError) as caught:
        DemoSettings.from_env({"FLOE_DEMO_CATALOG_PROPERTIES": "[1]"})
    assert caught.value.message == "FLOE_DEMO_CATALOG_PROPERTIES must be a JSON object"
    assert caught.value.remediation == (
        "set the variable the message names as docs/demo.md describes, or unset it"
    )


def test_a_template_remediation_is_filled_from_the_facts(tmp_path: Path) -> None:
    log = tmp_path / "cube.log"
    failed = errors.ServerFailed("cube died", log_path=log)
    assert failed.remediation == f"read {log}"
    assert failed.facts == {"log_path": log}
    unknown = errors.EnvironmentUnknown(
        "floe.yaml", "environment 'x' is not defined.", field="environments.x", defined="a, b"
    )
    assert unknown.message == (
        "floe.yaml: environments.x: environment 'x' is not defined. Fix: use one of: a, b; "
        "or add it under 'environments:'"
    )
    # a class without facts keeps its text as it is, braces included
    assert errors.ConfigFileNotFound("floe.yaml", "file not found.").remediation.endswith(
        "password: ${DAGSTER_PG_PASSWORD}}}}'"
    )
