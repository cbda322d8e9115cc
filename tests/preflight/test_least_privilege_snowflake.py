"""Least privilege of the Snowflake session (FC-006): the decision functions only.

No real Snowflake runs here, and fakesnow answers ``CURRENT_ROLE()`` with ``duckdb`` and has no
roles at all, so it cannot produce an ACCOUNTADMIN session: these tests feed the functions the
values Snowflake returns (``CURRENT_ROLE()`` a role name, ``CURRENT_SECONDARY_ROLES()`` the JSON
of Snowflake's documentation). What they do not check: that a real account answers so, and
roles that inherit ACCOUNTADMIN through the role hierarchy (not visible without SHOW GRANTS).
``tests/preflight/test_probe_snowflake.py`` checks that the probe still passes on fakesnow.
"""

from __future__ import annotations

import pytest

from floe_checks.config import SnowflakeCompute
from floe_checks.least_privilege import (
    snowflake_admin_roles,
    snowflake_secondary_roles,
    snowflake_warnings,
)

pytestmark = [pytest.mark.requirement("FC-006"), pytest.mark.evidence("static")]

NEEDS = (
    "dbt and Dagster need only a role with USAGE on the warehouse and database and CREATE in "
    "the schema"
)


@pytest.fixture
def compute(load_section: object) -> SnowflakeCompute:
    section = load_section(  # type: ignore[operator]
        "compute",
        {"type": "snowflake", "account": "acme", "user": "FLOE_SVC", "role": "${SF_ROLE}"},
        SF_ROLE="ACCOUNTADMIN",
    )
    assert isinstance(section, SnowflakeCompute)
    return section


@pytest.mark.parametrize(
    ("value", "roles"),
    [
        ('{"roles":"ROLE1,ROLE2,ROLE3","value":"ALL"}', ["ROLE1", "ROLE2", "ROLE3"]),
        ('{"roles":"","value":""}', []),
        (None, []),
        ("not json", []),
        ('["ROLE1"]', []),
    ],
)
def test_secondary_roles_from_the_documented_json(value: str | None, roles: list[str]) -> None:
    assert snowflake_secondary_roles(value) == roles


@pytest.mark.parametrize(
    ("role", "secondary", "admin"),
    [
        ("ACCOUNTADMIN", [], ["ACCOUNTADMIN"]),
        ("accountadmin", [], ["ACCOUNTADMIN"]),
        ('"SECURITYADMIN"', [], ["SECURITYADMIN"]),
        ("ORGADMIN", [], ["ORGADMIN"]),
        ("TRANSFORMER", ["SYSADMIN", "ACCOUNTADMIN"], ["ACCOUNTADMIN"]),
        ("TRANSFORMER", ["SYSADMIN", "USERADMIN"], []),
        (None, [], []),
    ],
)
def test_admin_roles(role: str | None, secondary: list[str], admin: list[str]) -> None:
    assert snowflake_admin_roles(role, secondary) == admin


def test_accountadmin_primary_role_warns(compute: SnowflakeCompute) -> None:
    assert snowflake_warnings(compute, "ACCOUNTADMIN") == [
        f"user FLOE_SVC works as role ACCOUNTADMIN, which administers the whole account; "
        f"{NEEDS}. Fix: grant FLOE_SVC such a role (e.g. TRANSFORMER) and set "
        "environments.test.compute.role (${SF_ROLE}) to it."
    ]


def test_admin_secondary_roles_warn(compute: SnowflakeCompute) -> None:
    assert snowflake_warnings(compute, "TRANSFORMER", ["SECURITYADMIN", "ACCOUNTADMIN"]) == [
        "user FLOE_SVC carries ACCOUNTADMIN, SECURITYADMIN as secondary roles "
        f"(DEFAULT_SECONDARY_ROLES), so every statement may use them; {NEEDS}. Fix: ALTER USER "
        "FLOE_SVC SET DEFAULT_SECONDARY_ROLES = (), or run the platform as a user not granted "
        "ACCOUNTADMIN, SECURITYADMIN."
    ]


def test_primary_and_secondary_are_not_repeated(compute: SnowflakeCompute) -> None:
    warnings = snowflake_warnings(compute, "ACCOUNTADMIN", ["ACCOUNTADMIN", "ORGADMIN"])
    assert [w.split(",")[0] for w in warnings] == [
        "user FLOE_SVC works as role ACCOUNTADMIN",
        "user FLOE_SVC carries ORGADMIN as secondary role (DEFAULT_SECONDARY_ROLES)",
    ]


def test_a_narrow_role_gets_no_warning(compute: SnowflakeCompute) -> None:
    assert snowflake_warnings(compute, "TRANSFORMER", ["REPORTER"]) == []
    assert snowflake_warnings(compute, None) == []
