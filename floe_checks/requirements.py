"""Requirement registries: ours (``requirements.yaml``, every SPEC ID with a short title) and
the ones a user's repository registers with the ini option ``floe_requirements``.

The rule that decides whether an ID on a ``requirement`` marker is checked:

* An ID's *family* is the ID without its trailing number (``007-FR-016`` → ``007-FR-``,
  ``REQ-123`` → ``REQ-``).
* An ID is checked only when some registry in effect holds an ID of the same family; then it
  must be listed. ``007-FR-999`` is an error (our family, not ours), ``REQ-123`` is accepted
  as is until the repository registers a file with ``REQ-`` IDs, after which only those pass.

So installing floe-checks never breaks a suite that marks tests with its own IDs.

An entry is either ``ID: title`` or a mapping ``ID: {title: ..., needs: LEVEL}``; ``needs`` is
the evidence level (:mod:`floe_checks.evidence`) a passing test must reach to prove the
requirement, enforced by ``--floe-trace-strict``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from floe_checks.errors import ConfigError
from floe_checks.evidence import unknown_level

_NUMBER = re.compile(r"[0-9]+[a-z]?$")


@dataclass(frozen=True)
class Entries:
    """One registry file: titles in file order, and the levels the requirements need."""

    titles: dict[str, str]
    needs: dict[str, str]


def parse_entries(data: object, file: str, fix: str) -> Entries:
    """The entries of a loaded registry file.

    Raises:
        ConfigError: not a mapping of IDs, or an entry that is neither a title nor a mapping
            of ``title`` and ``needs`` with a known level.
    """
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            file, "a requirement registry must be a mapping of ID to title.", remediation=fix
        )
    titles: dict[str, str] = {}
    needs: dict[str, str] = {}
    for key, value in data.items():
        rid = str(key)
        if isinstance(value, dict):
            extra = sorted(str(k) for k in value if k not in ("title", "needs"))
            if extra or "title" not in value:
                raise ConfigError(
                    file,
                    f"{rid}: an entry is a title or a mapping of 'title' and 'needs'"
                    + (f" (unexpected: {', '.join(extra)})." if extra else " (no title)."),
                    remediation=fix,
                )
            titles[rid] = str(value["title"])
            if "needs" in value:
                problem = unknown_level(value["needs"])
                if problem:
                    raise ConfigError(file, f"{rid}: needs: {problem}.", remediation=fix)
                needs[rid] = str(value["needs"])
        else:
            titles[rid] = str(value)
    return Entries(titles, needs)


@functools.cache
def _ours() -> Entries:
    text = resources.files("floe_checks").joinpath("requirements.yaml").read_text("utf-8")
    return parse_entries(yaml.safe_load(text), "floe_checks/requirements.yaml", "fix the file")


def registry() -> dict[str, str]:
    """All requirement IDs of SPEC.md, in SPEC order, mapped to their titles."""
    return dict(_ours().titles)


def needs() -> dict[str, str]:
    """The evidence level each of our requirements needs."""
    return dict(_ours().needs)


def family(rid: str) -> str:
    """The family of an ID: the ID without its trailing number (``SC-004`` → ``SC-``)."""
    return _NUMBER.sub("", rid)


def load_registry_entries(path: Path, setting: str = "the ini option floe_requirements") -> Entries:
    """A user's registry: a YAML mapping of ID to title (or to ``title`` and ``needs``), like
    ``requirements.yaml``.

    Args:
        path: the file.
        setting: where the user named it, for the fix in a message.

    Raises:
        ConfigError: the file is missing, not YAML or not a mapping of IDs to titles.
    """
    file = str(path)
    fix = f"point {setting} at a YAML file of 'ID: title' lines"
    if not path.is_file():
        raise ConfigError(file, "requirement registry not found.", remediation=fix)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(
            file, f"not valid YAML ({type(exc).__name__}).", remediation=fix
        ) from None
    return parse_entries(data, file, fix)


def load_registry_file(
    path: Path, setting: str = "the ini option floe_requirements"
) -> dict[str, str]:
    """The titles of a user's registry (see :func:`load_registry_entries`)."""
    return load_registry_entries(path, setting).titles


@dataclass(frozen=True)
class Registry:
    """The requirement IDs in effect for a run: ours plus the user's files, in that order."""

    titles: dict[str, str] = field(default_factory=dict)
    user_ids: tuple[str, ...] = ()
    needs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, files: Sequence[Path] = ()) -> Registry:
        """Ours merged with each user file (an ID both define keeps our title).

        Raises:
            ConfigError: a user file is wrong.
        """
        titles, levels = registry(), needs()
        user: list[str] = []
        for path in files:
            entries = load_registry_entries(path)
            for rid, title in entries.titles.items():
                titles.setdefault(rid, title)
                if rid not in user:
                    user.append(rid)
            for rid, level in entries.needs.items():
                levels.setdefault(rid, level)
        return cls(titles, tuple(user), levels)

    @functools.cached_property
    def families(self) -> frozenset[str]:
        return frozenset(family(rid) for rid in self.titles)

    def unknown(self, ids: Iterable[str]) -> list[str]:
        """The IDs of a registered family that no registry lists, in the order given."""
        return [rid for rid in ids if rid not in self.titles and family(rid) in self.families]
