"""DuckDB (embedded): open the database file (or memory) as dbt-duckdb would and run
``SELECT 1``. A file opens read-only unless ``read_write`` is set, so the check never creates or
changes a production file by accident."""

from __future__ import annotations

from pathlib import Path

from floe_checks.config import DuckDBCompute
from floe_checks.errors import FailureKind
from floe_checks.failures import failure
from floe_checks.results import Service

SERVICE = Service.COMPUTE

MEMORY = ":memory:"


def check(section: DuckDBCompute, timeout: float) -> dict[str, object]:
    """Open the database and run ``SELECT 1`` (``timeout`` is unused: nothing is remote).

    Raises:
        CheckFailure: the file is missing, locked, unreadable or not a DuckDB database.
    """
    import duckdb

    path = section.path
    memory = path == MEMORY or path.startswith(":memory:")
    read_only = not (memory or section.read_write)
    if not memory and read_only and not Path(path).is_file():
        raise failure(
            FailureKind.NOT_FOUND,
            f"DuckDB database file {path!r} does not exist.",
            section,
            ["path"],
            endpoint=path,
            what=f"database file {path!r}",
            details={"path": path},
        )
    try:
        conn = duckdb.connect(path, read_only=read_only)
    except duckdb.Error as exc:
        text = " ".join(str(exc).split())[:240]
        low = text.lower()
        if "lock" in low:
            kind, what = FailureKind.AUTHORIZATION, "a lock on the file (another process holds it)"
        elif "permission denied" in low:
            kind, what = FailureKind.AUTHORIZATION, "file system access to the file"
        elif "no such file" in low or "does not exist" in low:
            kind, what = FailureKind.NOT_FOUND, f"the directory of {path!r}"
        else:
            kind, what = FailureKind.PROTOCOL, "a DuckDB database file"
        raise failure(
            kind,
            f"DuckDB cannot open {path!r}: {text}",
            section,
            ["path", "read_write"] if kind is FailureKind.AUTHORIZATION else ["path"],
            endpoint=path,
            what=what,
            details={"path": path},
        ) from None
    try:
        row = conn.execute("SELECT 1").fetchone()
    finally:
        conn.close()
    if row != (1,):
        raise failure(
            FailureKind.QUERY,
            f"SELECT 1 returned {row!r}.",
            section,
            ["path"],
            endpoint=path,
            what="SELECT 1",
        )
    mode = "memory" if memory else ("read-write" if section.read_write else "read-only")
    return {
        "path": path,
        "mode": mode,
        "duckdb_version": duckdb.__version__,
        "message": f"SELECT 1 ok on DuckDB {duckdb.__version__} ({mode}: {path}).",
    }
