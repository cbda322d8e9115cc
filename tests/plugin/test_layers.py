"""The package's layers point one way, read from the imports themselves (AST, no import).

* ``floe_checks.probes`` never imports ``floe_checks.preflight``: the result model
  (``floe_checks.results``) and the failure kinds with their remediation
  (``floe_checks.failures``) sit one floor below both, as httpx's models sit below its client.
* Nothing imports the top plugin (``floe_checks.plugin``), not even inside a function: the
  sub-plugins read the session's state through :mod:`floe_checks.session`, so the entry point
  sits above every module it wires in.
* Plain modules never import pytest: only the modules that wire things into pytest do, and they
  are listed here with the reason. Everything else can be called from a script.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "floe_checks"
TOP_PLUGIN = "floe_checks.plugin"

# modules that exist to adapt plain code to pytest (or to drive pytest), and why
PYTEST_MODULES = {
    "floe_checks.plugin": "the pytest11 entry point",
    "floe_checks.preflight.plugin": "the preflight sub-plugin (hooks, report, JUnit properties)",
    "floe_checks.preflight.fixtures": "the floe_* fixtures users extend the harness with",
    "floe_checks.stack.plugin": "the stack sub-plugin (floe_stack fixtures, skip or error)",
    "floe_checks.checks.test_preflight": "the bundled checks are pytest tests",
    "floe_checks.commands.preflight": "`floe preflight` runs the bundled checks through pytest",
    "floe_checks.session": "the session's state in pytest's config.stash, for the sub-plugins",
    "floe_checks.settings": "resolves option > env > ini from a pytest.Config",
    "floe_checks.examples.docs": "checks the docs' pytest commands with pytest's own parser",
}


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path = PACKAGE, names: bool = False) -> set[str]:
    """Every module ``path`` imports, at any depth (function-level imports too).

    With ``names``, ``from X import y`` also yields ``X.y``: ``y`` may be a module
    (``from floe_checks import plugin``).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    package = _module_name(path, root).rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            elif node.module:
                module = node.module
            else:
                continue
            found.add(module)
            if names:
                found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _modules(names: bool = False) -> dict[str, set[str]]:
    return {_module_name(p): _imports(p, names=names) for p in sorted(PACKAGE.rglob("*.py"))}


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def test_probes_never_import_preflight() -> None:
    offenders = {
        module: sorted(i for i in imports if _under(i, "floe_checks.preflight"))
        for module, imports in _modules().items()
        if _under(module, "floe_checks.probes")
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_the_shared_vocabulary_imports_neither_probes_nor_preflight() -> None:
    modules = _modules()
    for low in ("floe_checks.results", "floe_checks.failures", "floe_checks.errors"):
        above = sorted(
            i
            for i in modules[low]
            if _under(i, "floe_checks.probes") or _under(i, "floe_checks.preflight")
        )
        assert above == [], low


def test_nothing_imports_the_top_plugin() -> None:
    importers = sorted(
        module
        for module, imports in _modules(names=True).items()
        if module != TOP_PLUGIN and any(_under(i, TOP_PLUGIN) for i in imports)
    )
    assert importers == []


def test_the_top_plugin_check_sees_a_function_level_import(tmp_path: Path) -> None:
    """A sub-plugin that imports the top plugin inside a function (absolute or relative) is
    seen, so :func:`test_nothing_imports_the_top_plugin` can fail."""
    root = tmp_path / "floe_checks"
    absolute = root / "preflight" / "plugin.py"
    relative = root / "stack" / "plugin.py"
    absolute.parent.mkdir(parents=True)
    relative.parent.mkdir(parents=True)
    absolute.write_text(
        "def f(config):\n    from floe_checks.plugin import selected_environment\n",
        encoding="utf-8",
    )
    relative.write_text("def g():\n    from .. import plugin\n", encoding="utf-8")
    assert _imports(absolute, root, names=True) == {
        "floe_checks.plugin",
        "floe_checks.plugin.selected_environment",
    }
    assert _imports(relative, root, names=True) == {"floe_checks", "floe_checks.plugin"}


def test_only_the_pytest_adapters_import_pytest() -> None:
    importing = {
        module
        for module, imports in _modules().items()
        if any(_under(i, "pytest") or _under(i, "_pytest") for i in imports)
    }
    assert sorted(importing) == sorted(PYTEST_MODULES)


def test_the_layer_check_sees_a_violation(tmp_path: Path) -> None:
    """The AST reader finds imports inside functions and relative ones (it can fail)."""
    root = tmp_path / "floe_checks"
    module = root / "probes" / "example.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "def f():\n    from ..preflight import runner\n    import pytest\n", encoding="utf-8"
    )
    assert _imports(module, root) == {"floe_checks.preflight", "pytest"}
