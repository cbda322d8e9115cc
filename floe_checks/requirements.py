"""Requirement registries: ours (``requirements.yaml``, every SPEC ID with a short title) and
the ones a user's repository registers with the ini option ``floe_requirements``.

The rule that decides whether an ID on a ``requirement`` marker is checked:

* An ID's *family* is the ID without its trailing number (``007-FR-016`` → ``007-FR-``,
  ``REQ-123`` → ``REQ-``).
* An ID is checked only when some registry in effect holds an ID of the same family; then it
  must be listed. ``007-FR-999`` is an error (our family, not ours), ``REQ-123`` is accepted
  as is until the repository registers a file with ``REQ-`` IDs, after which only those pass.

So installing floe-checks never breaks a suite that marks tests with its own IDs.
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

_NUMBER = re.compile(r"[0-9]+[a-z]?$")


@functools.cache
def registry() -> dict[str, str]:
    """All requirement IDs of SPEC.md, in SPEC order, mapped to their titles."""
    text = resources.files("floe_checks").joinpath("requirements.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return {str(key): str(value) for key, value in data.items()}


def family(rid: str) -> str:
    """The family of an ID: the ID without its trailing number (``SC-004`` → ``SC-``)."""
    return _NUMBER.sub("", rid)


def load_registry_file(
    path: Path, setting: str = "the ini option floe_requirements"
) -> dict[str, str]:
    """A user's registry: a YAML mapping of ID to title, like ``requirements.yaml``.

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
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            file, "a requirement registry must be a mapping of ID to title.", remediation=fix
        )
    return {str(key): str(value) for key, value in data.items()}


@dataclass(frozen=True)
class Registry:
    """The requirement IDs in effect for a run: ours plus the user's files, in that order."""

    titles: dict[str, str] = field(default_factory=dict)
    user_ids: tuple[str, ...] = ()

    @classmethod
    def load(cls, files: Sequence[Path] = ()) -> Registry:
        """Ours merged with each user file (an ID both define keeps our title).

        Raises:
            ConfigError: a user file is wrong.
        """
        titles = dict(registry())
        user: list[str] = []
        for path in files:
            for rid, title in load_registry_file(path).items():
                titles.setdefault(rid, title)
                if rid not in user:
                    user.append(rid)
        return cls(titles, tuple(user))

    @functools.cached_property
    def families(self) -> frozenset[str]:
        return frozenset(family(rid) for rid in self.titles)

    def unknown(self, ids: Iterable[str]) -> list[str]:
        """The IDs of a registered family that no registry lists, in the order given."""
        return [rid for rid in ids if rid not in self.titles and family(rid) in self.families]
