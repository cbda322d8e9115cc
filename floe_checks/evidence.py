"""Evidence levels: how strong the proof of a passing test is.

A Dockerfile lint and a running container both "pass"; a compliance reader must be able to
tell them apart. Every test carries one level, ordered weakest to strongest:

============  ==========================================================================
level         what ran
============  ==========================================================================
static        nothing outside this process: files read, our code run on recorded data
rendered      templates rendered (``helm template``) and validated against schemas
emulator      a local emulator of a cloud service (moto, fakesnow, bqemulator, azurite…)
service       the real server software running locally (PostgreSQL, Trino, Dagster…)
api-server    a real Kubernetes API server (admission, CRDs, field validation)
cluster       containers running on a real node (kind, or any cluster with kubelets)
environment   a user's live environment (``--floe-env``, ``--floe-stack=existing``)
============  ==========================================================================

A level is *derived* where the fixtures make it certain (see :func:`derive`), otherwise
*stated* with ``@pytest.mark.evidence("rendered")``. A test with neither is ``unstated``: no
silent default, the matrix shows it as such.

Plain Python: the plugin feeds it markers and fixture names; ``floe report`` reads the levels
back from JUnit properties.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LEVELS = (
    "static",
    "rendered",
    "emulator",
    "service",
    "api-server",
    "cluster",
    "environment",
)
# A test that states no level and whose fixtures derive none: ranks below every level, so it
# never satisfies a requirement's ``needs``.
UNSTATED = "unstated"

# The level of each --floe-stack provider: local processes, a kind cluster, a live deployment.
STACK_LEVELS = {"local": "service", "kind": "cluster", "existing": "environment"}
# The built-in ``local`` environment is the embedded local stack, not a user's live one.
LOCAL_ENV_LEVEL = "service"
ENV_LEVEL = "environment"


def rank(level: str) -> int:
    """Position of ``level`` in :data:`LEVELS` (``unstated`` and unknown words: -1)."""
    return LEVELS.index(level) if level in LEVELS else -1


def strongest(levels: Iterable[str]) -> str | None:
    """The strongest of ``levels`` (None for none)."""
    found = list(levels)
    return max(found, key=rank) if found else None


def ordered(levels: Iterable[str]) -> list[str]:
    """``levels`` without repeats, weakest first."""
    return sorted(set(levels), key=rank)


def unknown_level(value: object) -> str | None:
    """Why ``value`` is not a level (None: it is one)."""
    if isinstance(value, str) and value in LEVELS:
        return None
    return f"unknown evidence level {value!r}; known levels, weakest first: {', '.join(LEVELS)}"


@dataclass(frozen=True)
class Evidence:
    """The level of one test and where it comes from.

    Attributes:
        level: one of :data:`LEVELS`, or :data:`UNSTATED`.
        source: ``marker``, ``fixture NAME`` (derived) or ``unstated``.
    """

    level: str
    source: str


def derive(fixtures: Mapping[str, str]) -> Evidence | None:
    """The strongest level the fixtures prove (None: they prove none).

    Args:
        fixtures: the test's fixtures that establish a level, name → level.
    """
    if not fixtures:
        return None
    name = max(fixtures, key=lambda f: (rank(fixtures[f]), f))
    return Evidence(fixtures[name], f"fixture {name}")


class EvidenceConflict(ValueError):
    """A marker claims stronger evidence than the test's fixtures provide."""


def resolve(marked: str | None, derived: Evidence | None) -> Evidence:
    """One test's level from its marker and its fixtures.

    A derivation is certain, a marker is a claim. So the stronger wins when the fixtures show
    more than the marker says (a module's ``pytestmark`` stays a default for its other tests),
    but a marker claiming more than the fixtures prove is an error: overstating is the one
    mistake a compliance matrix must not make.

    Raises:
        EvidenceConflict: the marker claims a level above the derived one.
    """
    if derived is None:
        return Evidence(marked, "marker") if marked else Evidence(UNSTATED, UNSTATED)
    if marked is None or rank(marked) <= rank(derived.level):
        return derived
    raise EvidenceConflict(
        f"@pytest.mark.evidence({marked!r}) claims more than its {derived.source} proves "
        f"({derived.level!r}). Fix: drop the marker, or, if another fixture provides "
        f"{marked!r} evidence, declare it in the ini option floe_evidence_fixtures "
        f"('NAME: {marked}')"
    )


def parse_fixture_levels(lines: Iterable[str]) -> dict[str, str]:
    """The ini option ``floe_evidence_fixtures``: lines of ``FIXTURE: LEVEL``.

    Raises:
        ValueError: a line is not ``FIXTURE: LEVEL`` or names an unknown level.
    """
    table: dict[str, str] = {}
    for line in lines:
        text = line.strip()
        if not text:
            continue
        name, sep, level = (part.strip() for part in text.partition(":"))
        if not sep or not name or not level:
            raise ValueError(f"{text!r} is not 'FIXTURE: LEVEL'")
        problem = unknown_level(level)
        if problem:
            raise ValueError(f"{text!r}: {problem}")
        table[name] = level
    return table


def below(has: str | None, needs: str) -> bool:
    """Whether passing evidence ``has`` (None: no test passed) falls short of ``needs``."""
    return has is None or rank(has) < rank(needs)
