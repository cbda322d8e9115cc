"""The data path through an Iceberg REST catalog (opt-in: ``write_check: true``, ``--floe-write``,
``floe preflight --write``).

After the read-only catalog checks pass: create a scratch namespace ``floe_preflight_<random>``
and a one-column table in it through the catalog (pyiceberg's REST client), append one row,
read it back through the catalog, then drop the table and the namespace — always, in a
``finally``, best effort. A leftover that could not be dropped becomes a warning naming it.

Data files go where the catalog says: the credentials it vends when it offers them (the request
carries ``X-Iceberg-Access-Delegation: vended-credentials``), else the environment's ``storage``
section (S3 endpoint and key pair). Each step's outcome lands in ``details.write_path``.

pyiceberg (and pyarrow, which writes the Parquet file) are imported here, only when the data
path runs: ``pip install 'floe-checks[iceberg]'``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from floe_checks.config import RestCatalog, S3Storage
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.failures import (
    classify_network_error,
    data_path_failure,
    failure,
    scratch_leftover,
)

if TYPE_CHECKING:
    import requests

# The steps, in order; each is "ok", "error" or "skipped" in details.write_path.
STEPS = ("create_namespace", "create_table", "append", "read_back", "drop_table", "drop_namespace")
TABLE = "probe"
EXTRA = "iceberg"
# S3 error texts of pyarrow (and botocore) that mean the key may not write there.
_DENIED = ("ACCESS_DENIED", "AccessDenied", "Access Denied", "Forbidden", "403")


def scratch_namespace() -> str:
    """A fresh, unique scratch namespace name: ``floe_preflight_<12 hex digits>``."""
    return f"floe_preflight_{secrets.token_hex(6)}"


def _storage_properties(section: RestCatalog) -> tuple[dict[str, str], str]:
    """pyiceberg FileIO properties from the environment's storage section, and its name for
    the report (``storage`` or ``none``)."""
    storage = section.storage_section()
    if not isinstance(storage, S3Storage):
        return {}, "none"
    props = {"s3.region": storage.region}
    if storage.endpoint_url:
        props["s3.endpoint"] = storage.endpoint_url
    if storage.access_key_id is not None:
        props["s3.access-key-id"] = storage.access_key_id.get_secret_value()
    if storage.secret_access_key is not None:
        props["s3.secret-access-key"] = storage.secret_access_key.get_secret_value()
    if storage.path_style:
        props["s3.force-virtual-addressing"] = "false"
    return props, "storage"


def _catalog(section: RestCatalog, token: str, timeout: float, storage: dict[str, str]) -> Any:
    """A pyiceberg REST catalog that reuses the probe's token and honours ``timeout`` on every
    request (pyiceberg sets none of its own)."""
    from pyiceberg.catalog.rest import RestCatalog as IcebergRestCatalog

    verify = section.tls_verify()

    class _TimedCatalog(IcebergRestCatalog):
        def _create_session(self) -> requests.Session:
            session = super()._create_session()
            session.verify = verify
            plain = session.request

            def request(method: str, url: str, **kwargs: Any) -> requests.Response:
                kwargs.setdefault("timeout", (timeout, timeout))
                return plain(method, url, **kwargs)

            session.request = request  # type: ignore[method-assign,assignment]
            return session

    props: dict[str, str] = {
        "uri": section.uri.rstrip("/"),
        "token": token,
        "header.X-Iceberg-Access-Delegation": "vended-credentials",
        "s3.connect-timeout": f"{timeout:g}",
        "s3.request-timeout": f"{timeout:g}",
        **storage,
    }
    if section.warehouse:
        props["warehouse"] = section.warehouse
    return _TimedCatalog("floe-preflight", **props)


def _vended(table: Any, storage: dict[str, str]) -> bool:
    """Whether the catalog's table answer carried storage credentials of its own."""
    io_props = getattr(table.io, "properties", {}) or {}
    for key in ("s3.access-key-id", "s3.session-token", "gcs.oauth2.token", "adls.sas-token"):
        if key in io_props and io_props.get(key) != storage.get(key):
            return True
    return False


def _catalog_step_failure(
    section: RestCatalog, step: str, exc: Exception, steps: dict[str, str], extra: dict[str, object]
) -> CheckFailure:
    """A failure of a catalog call (create namespace/table, read back), classified."""
    from pyiceberg.exceptions import ForbiddenError, OAuthError, UnauthorizedError

    details = {**extra, "write_path": dict(steps), "step": step}
    text = " ".join(str(exc).split())[:300]
    if isinstance(exc, ForbiddenError):
        return data_path_failure(FailureKind.AUTHORIZATION, section, step, text, details=details)
    if isinstance(exc, UnauthorizedError | OAuthError):
        return data_path_failure(FailureKind.AUTHENTICATION, section, step, text, details=details)
    kind = classify_network_error(exc) or FailureKind.UNKNOWN
    return data_path_failure(kind, section, step, f"{type(exc).__name__}: {text}", details=details)


def _append_failure(
    section: RestCatalog,
    exc: Exception,
    steps: dict[str, str],
    extra: dict[str, object],
    location: str,
) -> CheckFailure:
    details = {**extra, "write_path": dict(steps), "step": "append", "location": location}
    if any(marker in str(exc) for marker in _DENIED):
        # the client's text names a random file and request id: the operation is the fact
        found = re.search(r"during (\w+) operation", str(exc))
        operation = found.group(1) if found else "the write"
        details["storage_error"] = " ".join(str(exc).split())[:300]
        text = f"the storage denied writing a data file under {location} ({operation})"
        return data_path_failure(
            FailureKind.WRITE_DENIED, section, "append", text, details=details, location=location
        )
    return _catalog_step_failure(section, "append", exc, steps, {**extra, "location": location})


def run(section: RestCatalog, token: str, timeout: float) -> dict[str, object]:
    """Write, read back and drop a scratch table through the catalog.

    Args:
        section: the catalog section (its environment's storage section is used when the
            catalog vends no credentials).
        token: the OAuth2 access token the read-only check obtained.
        timeout: per request, seconds.

    Returns:
        Details to merge into the catalog check's: ``write_path`` (step -> ok/error/skipped),
        ``write_namespace``, ``write_credentials`` (``vended``, ``storage`` or ``none``), a
        ``write_message`` and, when a drop failed, ``warnings``.

    Raises:
        CheckFailure: a step before the drops failed; ``details.write_path`` says which.
    """
    try:
        import pyarrow as pa
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
    except ImportError as exc:
        raise failure(
            FailureKind.MISSING_CLIENT,
            f"the data path needs pyiceberg and pyarrow (module {exc.name or '?'} is missing).",
            section,
            ["write_check"],
            what=EXTRA,
            details={"missing_module": exc.name or "", "step": "create_namespace"},
        ) from None

    storage, source = _storage_properties(section)
    namespace = scratch_namespace()
    identifier = (namespace, TABLE)
    steps = dict.fromkeys(STEPS, "skipped")
    extra: dict[str, object] = {"write_namespace": namespace, "write_credentials": source}
    error: CheckFailure | None = None
    warnings: list[str] = []
    catalog = None
    created_namespace = created_table = False
    step = "create_namespace"
    try:
        catalog = _catalog(section, token, timeout, storage)
        catalog.create_namespace((namespace,))
        created_namespace, steps[step] = True, "ok"
        step = "create_table"
        table = catalog.create_table(identifier, schema=pa.schema([("id", pa.int64())]))
        created_table, steps[step] = True, "ok"
        if _vended(table, storage):
            extra["write_credentials"] = source = "vended"
        step = "append"
        location = str(table.metadata.location)
        try:
            table.append(pa.table({"id": pa.array([1], type=pa.int64())}))
        except Exception as exc:
            steps[step] = "error"
            raise _append_failure(section, exc, steps, extra, location) from None
        steps[step] = "ok"
        step = "read_back"
        rows = catalog.load_table(identifier).scan().to_arrow().to_pylist()
        if rows != [{"id": 1}]:
            steps[step] = "error"
            raise data_path_failure(
                FailureKind.PROTOCOL,
                section,
                step,
                f"read back {rows!r} instead of the one row written",
                details={**extra, "write_path": dict(steps), "step": step},
            )
        steps[step] = "ok"
    except CheckFailure as exc:
        error = exc
    except Exception as exc:  # every catalog/client error becomes a classified step failure
        steps[step] = "error"
        error = _catalog_step_failure(section, step, exc, steps, extra)
    finally:
        if catalog is not None:
            drops: list[tuple[str, bool, Callable[[], object], type[Exception], str]] = [
                (
                    "drop_table",
                    created_table,
                    lambda: catalog.drop_table(identifier),
                    NoSuchTableError,
                    f"{namespace}.{TABLE}",
                ),
                (
                    "drop_namespace",
                    created_namespace,
                    lambda: catalog.drop_namespace((namespace,)),
                    NoSuchNamespaceError,
                    namespace,
                ),
            ]
            for name, done, drop, gone, what in drops:
                if not done:
                    continue
                try:
                    drop()
                    steps[name] = "ok"
                except gone:
                    steps[name] = "ok"  # already gone: nothing left behind
                except Exception as exc:  # best effort: a leftover is a warning, not an error
                    steps[name] = "error"
                    warnings.append(scratch_leftover(section, name, what, exc))
    if error is not None:
        error.details["write_path"] = dict(steps)
        if warnings:
            error.details["warnings"] = warnings
        raise error
    via = {"vended": "vended credentials", "storage": "the storage section's credentials"}
    return {
        **extra,
        "write_path": steps,
        "write_message": (
            f"data path ok: wrote and read back 1 row in {namespace}.{TABLE} "
            f"({via.get(source, 'the catalog default credentials')}), dropped it"
        ),
        "warnings": warnings,
    }
