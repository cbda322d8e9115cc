"""The fixture ``trino``: a real Trino coordinator for ``tests/trino`` and ``tests/preflight``
(registered in ``tests/conftest.py``), started from the tree
``scripts/setup.d/60-trino.sh`` assembles and stopped by PID (its process group) at the end.
It is secured as production is (:class:`~floe_checks.servers.trino.TrinoSecurity`): HTTPS with
a certificate generated at start, password (``file`` authenticator) and JWT authentication.

One server for the whole run, also under pytest-xdist: each JVM takes about 0.75 GB of RSS and
half a minute of both cores to start, so the workers share it through a file lock and a state
file in pytest's shared temp root. Each worker attaches at its first Trino test and detaches at
its session end; the last one to detach stops the server (another worker may have started it).

Where the tree or a Java 25 runtime is missing the tests skip, naming the setup step; there is
no Trino stand-in.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from filelock import FileLock
from pydantic import SecretStr

from floe_checks.errors import FloeError, PrerequisiteMissing
from floe_checks.servers.process import stop_group
from floe_checks.servers.trino import TrinoSecurity, TrinoServer, throwaway_trino

STATE_FILE = "floe-trino.json"


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state


def _write(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)


def _skip_or_fail(exc: FloeError) -> NoReturn:
    if isinstance(exc, PrerequisiteMissing):
        pytest.skip(f"real Trino not available: {exc}; {exc.remediation}")
    pytest.fail(f"Trino did not start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def trino(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrinoServer]:
    """The run's Trino 483 with the ``memory`` and ``tpch`` catalogs, over https with password
    and JWT authentication (``trino.security`` holds the account, ``trino.ca_bundle`` the PEM
    that trusts its certificate)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        with contextlib.ExitStack() as stack:
            try:
                server = stack.enter_context(
                    throwaway_trino(prefix="floe-trino-test-", security=TrinoSecurity())
                )
            except FloeError as exc:
                _skip_or_fail(exc)
            yield server
        return
    # the workers' basetemps are siblings under the controller's
    root = tmp_path_factory.getbasetemp().parent
    state_path = root / STATE_FILE
    lock = FileLock(str(root / "floe-trino.lock"), timeout=600)
    with lock:
        state = _read(state_path)
        if "error" in state:
            # the worker that tried recorded why; the same skip or failure here
            cls = PrerequisiteMissing if state["error"]["missing"] else FloeError
            _skip_or_fail(cls(state["error"]["message"], remediation=state["error"]["hint"]))
        if "port" not in state:
            base = root / "floe-trino"
            shutil.rmtree(base, ignore_errors=True)
            started = TrinoServer(base, security=TrinoSecurity())
            try:
                started.start()
            except FloeError as exc:
                state["error"] = {
                    "message": str(exc),
                    "hint": exc.remediation,
                    "missing": isinstance(exc, PrerequisiteMissing),
                }
                _write(state_path, state)
                _skip_or_fail(exc)
            assert started.process is not None
            assert started.security is not None
            # throwaway credentials of a loopback server, in pytest's own temp root
            security = started.security
            state.update(
                {
                    "port": started.port,
                    "pid": started.process.pid,
                    "base": str(base),
                    "https_port": security.https_port,
                    "user": security.user,
                    "password": security.password.get_secret_value(),
                    "jwt_key": security.jwt_key.get_secret_value(),
                }
            )
        state["users"] = int(state.get("users", 0)) + 1
        _write(state_path, state)
    try:
        security = TrinoSecurity(
            user=state["user"],
            password=SecretStr(state["password"]),
            jwt_key=SecretStr(state["jwt_key"]),
            https_port=int(state["https_port"]),
        )
        yield TrinoServer(Path(state["base"]), port=int(state["port"]), security=security)
    finally:
        with lock:
            state = _read(state_path)
            state["users"] = int(state.get("users", 1)) - 1
            if state["users"] <= 0:
                stop_group(int(state["pid"]))
                state = {}
            _write(state_path, state)


def connect(trino: TrinoServer, **session: str) -> Any:
    """The trino client as dbt-trino uses it: https, basic auth, the server's CA (pinned, so
    ``REQUESTS_CA_BUNDLE`` cannot replace it); ``session`` are more ``connect`` arguments
    (``catalog``, ``schema``)."""
    import trino as trino_client

    from floe_checks.probes.trino import pinned_session

    assert trino.security is not None
    return trino_client.dbapi.connect(  # type: ignore[no-untyped-call]
        host=trino.host,
        port=trino.client_port,
        user=trino.security.user,
        http_scheme="https",
        auth=trino_client.auth.BasicAuthentication(
            trino.security.user, trino.security.password.get_secret_value()
        ),
        http_session=pinned_session(str(trino.ca_bundle)),
        **session,
    )
