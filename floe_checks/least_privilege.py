"""Least privilege (FC-006): what a preflight credential may do beyond what the platform needs.

Plain decisions over facts a probe has read — a PostgreSQL role's attributes, whether an S3 key
may list every bucket or delete outside its prefix, a Snowflake session's roles — each turned
into a warning that names the identity and the narrower grant to use. The probes put the
warnings in ``details["warnings"]`` (the runner makes the check a ``warning``, or an ``error``
under ``--floe-strict``) and the facts in ``details["privileges"]``. The wording lives here and
nowhere else; docs/preflight.md shows each warning as a user sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from floe_checks.config import PostgresSection, S3Storage, SnowflakeCompute

# --- PostgreSQL -----------------------------------------------------------------------------

# Predefined roles (PostgreSQL 14+ for the first two) that reach far beyond Dagster's schema.
POSTGRES_BROAD_ROLES: dict[str, str] = {
    "pg_read_all_data": "read every table of every database",
    "pg_write_all_data": "write every table of every database",
    "pg_read_server_files": "read any file on the database server",
    "pg_write_server_files": "write any file on the database server",
    "pg_execute_server_program": "run programs on the database server",
}

# The role itself and every role it may SET ROLE to (``pg_has_role(…, 'MEMBER')``): role
# attributes are not inherited, but a member can switch to the role that holds them. For a
# superuser ``pg_has_role`` is true for every role, so only its own row is read.
POSTGRES_ROLES_SQL = """
SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, oid = 10 AS bootstrap,
       rolname = current_user AS self,
       EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member
               WHERE m.roleid = pg_roles.oid AND u.rolname = current_user) AS direct
FROM pg_roles
WHERE rolname = current_user
   OR (NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND pg_has_role(current_user, oid, 'MEMBER'))
ORDER BY rolname
"""

_PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")


@dataclass(frozen=True)
class PostgresRole:
    """One row of :data:`POSTGRES_ROLES_SQL`: the user's role or a role it may act as."""

    name: str
    superuser: bool
    createrole: bool
    createdb: bool
    bootstrap: bool = False  # the cluster's bootstrap superuser (oid 10): it cannot lose SUPERUSER
    self: bool = False
    direct: bool = True  # granted to the user itself, not through another role


def pg_identifier(name: str) -> str:
    """A role, database or schema name as it must be written in SQL (quoted unless plain)."""
    if _PLAIN_IDENTIFIER.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _dagster_grants(section: PostgresSection, role: str) -> str:
    who = pg_identifier(role)
    return (
        f"GRANT CONNECT ON DATABASE {pg_identifier(section.database)} TO {who}; "
        f"GRANT USAGE, CREATE ON SCHEMA {pg_identifier(section.schema_)} TO {who}"
    )


def _dagster_needs(section: PostgresSection) -> str:
    return (
        f"Dagster needs only CONNECT on database {section.database} and USAGE, CREATE on schema "
        f"{section.schema_}"
    )


def _abilities(role: PostgresRole) -> tuple[str, list[str]] | None:
    """What CREATEROLE/CREATEDB let a role do, in words and as attributes; None without."""
    found: list[tuple[str, str]] = []
    if role.createrole:
        found.append(("roles", "CREATEROLE"))
    if role.createdb:
        found.append(("databases", "CREATEDB"))
    if not found:
        return None
    return "create " + " and ".join(what for what, _ in found), [a for _, a in found]


def postgres_privileges(roles: Sequence[PostgresRole]) -> dict[str, object]:
    """``details["privileges"]`` of the PostgreSQL check: the user's effective attributes
    (its own or a role's it may SET ROLE to) and the roles that give them."""
    own = next((r for r in roles if r.self), None)
    others = [r for r in roles if not r.self]
    broad = sorted(r.name for r in others if r.name in POSTGRES_BROAD_ROLES)
    granting = sorted(r.name for r in others if r.superuser or r.createrole or r.createdb)
    return {
        "role": own.name if own else None,
        "superuser": any(r.superuser for r in roles),
        "createrole": any(r.createrole for r in roles),
        "createdb": any(r.createdb for r in roles),
        "member_of": sorted({*broad, *granting}),
    }


def postgres_warnings(section: PostgresSection, roles: Sequence[PostgresRole]) -> list[str]:
    """The least-privilege warnings of a PostgreSQL user, from :data:`POSTGRES_ROLES_SQL`'s rows.

    A superuser gets one warning (it implies the rest); otherwise one for the role's own
    CREATEROLE/CREATEDB, one per role it may act as that holds an attribute, and one per broad
    predefined role it belongs to.
    """
    own = next((r for r in roles if r.self), None)
    if own is None:
        return []
    name = pg_identifier(own.name)
    needs = _dagster_needs(section)
    if own.superuser:
        if own.bootstrap:
            return [
                f"user {own.name!r} is the server's bootstrap superuser: it bypasses every "
                f"permission check, and {needs}. Fix: give Dagster a role of its own "
                f"(CREATE ROLE dagster_app LOGIN PASSWORD '…'; "
                f"{_dagster_grants(section, 'dagster_app')}) and set {section.hint('user')} "
                "to it."
            ]
        return [
            f"user {own.name!r} is a superuser: it bypasses every permission check, and "
            f"{needs}. Fix: ALTER ROLE {name} NOSUPERUSER NOCREATEROLE NOCREATEDB; "
            f"{_dagster_grants(section, own.name)}."
        ]
    warnings: list[str] = []
    abilities = _abilities(own)
    if abilities:
        words, attributes = abilities
        warnings.append(
            f"user {own.name!r} may {words} ({' '.join(attributes)}); Dagster "
            f"{'needs neither' if len(attributes) > 1 else 'does not need to'}. "
            f"Fix: ALTER ROLE {name} {' '.join(f'NO{a}' for a in attributes)}."
        )
    for role in roles:
        if role.self:
            continue
        if role.superuser:
            gives = "which is a superuser"
        else:
            abilities = _abilities(role)
            if abilities is None:
                continue
            words, attributes = abilities
            gives = f"which may {words} ({' '.join(attributes)})"
        warnings.append(
            f"user {own.name!r} may act as role {role.name!r} (SET ROLE), {gives}; {needs}. "
            f"Fix: {_revoke(role, own)}."
        )
    for role in roles:
        if role.self or role.name not in POSTGRES_BROAD_ROLES:
            continue
        warnings.append(
            f"user {own.name!r} is a member of {role.name} (it may "
            f"{POSTGRES_BROAD_ROLES[role.name]}); {needs}. Fix: {_revoke(role, own)}."
        )
    return warnings


def _revoke(role: PostgresRole, user: PostgresRole) -> str:
    """The REVOKE that ends ``user``'s membership in ``role``; for a membership through
    another role, where to revoke it."""
    if role.direct:
        return f"REVOKE {pg_identifier(role.name)} FROM {pg_identifier(user.name)}"
    return (
        f"REVOKE {pg_identifier(role.name)} FROM the role through which {user.name!r} holds it "
        f"(psql: \\du {user.name})"
    )


# --- S3 -------------------------------------------------------------------------------------

# The key of the delete probe: at the top level of the bucket, outside any prefix the platform
# is given, and random, so that it never exists (its DeleteObject deletes nothing).
S3_OUTSIDE_KEY_STEMS = ("floe-least-privilege-probe-", "0-floe-least-privilege-probe-")


def s3_outside_key(prefix: str, token: str) -> str | None:
    """A key outside ``prefix`` for the delete probe, or None when no key can be (an empty
    prefix gives the platform the whole bucket)."""
    if not prefix:
        return None
    for stem in S3_OUTSIDE_KEY_STEMS:
        key = f"{stem}{token}"
        if not key.startswith(prefix):
            return key
    return None


def s3_warnings(
    section: S3Storage,
    *,
    list_all_buckets: bool | None,
    bucket_count: int | None,
    delete_outside_prefix: bool | None,
    outside_key: str | None,
) -> list[str]:
    """The least-privilege warnings of an S3 credential.

    Args:
        section: the storage section (bucket, prefix and the credential fields).
        list_all_buckets: whether ``ListBuckets`` was allowed (None: not known).
        bucket_count: how many buckets it listed.
        delete_outside_prefix: whether a ``DeleteObject`` outside ``prefix`` was allowed.
        outside_key: the key that delete probe used.
    """
    arn = f"arn:aws:s3:::{section.bucket}"
    credential = (
        f"of {section.hint('access_key_id')}"
        if section.access_key_id is not None
        else "from the AWS credential chain"
    )
    warnings: list[str] = []
    if list_all_buckets:
        count = "" if bucket_count is None else f"; it listed {bucket_count}"
        warnings.append(
            f"the S3 credential {credential} may list every bucket of the account "
            f"(s3:ListAllMyBuckets{count}); the platform needs only bucket {section.bucket!r}. "
            f"Fix: drop s3:ListAllMyBuckets from its policy and keep s3:ListBucket on {arn}."
        )
    if delete_outside_prefix:
        top = section.prefix.split("/", 1)[0] + "/" if "/" in section.prefix else section.prefix
        warnings.append(
            f"the S3 credential {credential} may delete objects anywhere in bucket "
            f"{section.bucket!r}, outside prefix {section.prefix!r} (DeleteObject of the "
            f"never-existing top-level key {outside_key!r} was allowed). Fix: limit "
            f"s3:DeleteObject to the prefix the platform writes (its warehouse location, e.g. "
            f"{arn}/{top}*) and keep {section.hint('prefix')} inside it."
        )
    return warnings


# --- Snowflake ------------------------------------------------------------------------------

# System roles that administer the account, its users and grants, or the organisation.
SNOWFLAKE_ADMIN_ROLES = ("ACCOUNTADMIN", "ORGADMIN", "SECURITYADMIN")


def snowflake_secondary_roles(value: str | None) -> list[str]:
    """The active secondary roles from ``CURRENT_SECONDARY_ROLES()``'s JSON
    (``{"roles":"ROLE1,ROLE2","value":"ALL"}``); empty when none or unreadable."""
    if not value:
        return []
    try:
        data = json.loads(value)
    except ValueError:
        return []
    roles = data.get("roles") if isinstance(data, dict) else None
    if not isinstance(roles, str):
        return []
    return [r.strip() for r in roles.split(",") if r.strip()]


def snowflake_admin_roles(role: str | None, secondary: Sequence[str] = ()) -> list[str]:
    """The administrative system roles among the session's primary and secondary roles."""
    names = [r.strip('"').upper() for r in [*([role] if role else []), *secondary]]
    return [r for r in SNOWFLAKE_ADMIN_ROLES if r in names]


def snowflake_warnings(
    section: SnowflakeCompute, role: str | None, secondary: Sequence[str] = ()
) -> list[str]:
    """Warnings when the session's primary role, or one of its secondary roles, is
    ACCOUNTADMIN, SECURITYADMIN or ORGADMIN."""
    user = section.user
    needs = (
        "dbt and Dagster need only a role with USAGE on the warehouse and database and CREATE "
        "in the schema"
    )
    warnings: list[str] = []
    primary = snowflake_admin_roles(role)
    if primary:
        warnings.append(
            f"user {user} works as role {primary[0]}, which administers the whole account; "
            f"{needs}. Fix: grant {user} such a role (e.g. TRANSFORMER) and set "
            f"{section.hint('role')} to it."
        )
    carried = [r for r in snowflake_admin_roles(None, secondary) if r not in primary]
    if carried:
        names = ", ".join(carried)
        warnings.append(
            f"user {user} carries {names} as secondary role{'s' if len(carried) > 1 else ''} "
            f"(DEFAULT_SECONDARY_ROLES), so every statement may use "
            f"{'them' if len(carried) > 1 else 'it'}; {needs}. Fix: ALTER "
            f"USER {user} SET DEFAULT_SECONDARY_ROLES = (), or run the platform as a user not "
            f"granted {names}."
        )
    return warnings
