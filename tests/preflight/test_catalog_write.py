"""The catalog's data path (issue 17.2, FC-005) against SeaweedFS's real OAuth2 Iceberg REST
catalog (``weed mini``, tests/preflight/local_servers.py).

* the whole path passes with exact ``details.write_path``;
* a storage key that can read but not write (a SeaweedFS identity with the S3 actions Read and
  List only) fails at the append, with the ``write_denied`` remediation naming the storage keys;
* a catalog principal that may list but not create namespaces fails at ``create_namespace``;
* a scratch namespace SeaweedFS refuses to drop (another writer's table appeared in it) is a
  warning naming it;
* read-only stays the default: without the option nothing is written;
* after each test the scratch namespace is gone (the catalog's own namespace list);
* ``--floe-write`` in a pytester run and ``floe preflight --write`` in its own process.

SeaweedFS vends no credentials (its table answers carry no ``s3.*`` keys; checked on weed 4.48),
so data files go through the environment's storage section here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from floe_checks.config import RestCatalog, validate_environment
from floe_checks.preflight.runner import run_check
from floe_checks.probes.catalog_write import STEPS
from tests.preflight.local_servers import IcebergRestServer

pytestmark = [pytest.mark.requirement("FC-005", "007-FR-018"), pytest.mark.evidence("service")]

BIN = Path(sys.executable).parent
ALL_OK = dict.fromkeys(STEPS, "ok")
SCRATCH = re.compile(r"floe_preflight_[0-9a-f]{12}")


def _namespaces(server: IcebergRestServer) -> list[list[str]]:
    """The catalog's namespace list, read with the full identity (independent of our code)."""
    token = requests.post(
        f"{server.uri}/v1/oauth/tokens",
        data={
            "grant_type": "client_credentials",
            "client_id": server.client_id,
            "client_secret": server.client_secret,
        },
        timeout=10,
    ).json()["access_token"]
    answer = requests.get(
        f"{server.uri}/v1/{server.warehouse}/namespaces",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    namespaces: list[list[str]] = answer.json()["namespaces"]
    return namespaces


@pytest.fixture
def server(iceberg_rest_server: IcebergRestServer) -> Iterator[IcebergRestServer]:
    """The catalog; after the test no scratch namespace may be left in it."""
    before = _namespaces(iceberg_rest_server)
    yield iceberg_rest_server
    after = _namespaces(iceberg_rest_server)
    assert after == before
    assert [ns for ns in after if SCRATCH.fullmatch(".".join(ns))] == []


def _raw(server: IcebergRestServer, *, write: bool) -> dict[str, object]:
    return {
        "catalog": {
            "type": "iceberg-rest",
            "uri": server.uri,
            "client_id": "${WC_CLIENT_ID}",
            "client_secret": "${WC_CLIENT_SECRET}",
            "warehouse": server.warehouse,
            "write_check": write,
        },
        "storage": {
            "type": "s3",
            "bucket": server.warehouse,
            "endpoint_url": server.s3_endpoint,
            "path_style": True,
            "access_key_id": "${WC_S3_KEY}",
            "secret_access_key": "${WC_S3_SECRET}",
        },
    }


def _variables(
    server: IcebergRestServer, catalog: str = "full", storage: str = "full"
) -> dict[str, str]:
    keys = {"full": (server.client_id, server.client_secret), **server.keys}
    return {
        "WC_CLIENT_ID": keys[catalog][0],
        "WC_CLIENT_SECRET": keys[catalog][1],
        "WC_S3_KEY": keys[storage][0],
        "WC_S3_SECRET": keys[storage][1],
    }


@pytest.fixture
def catalog_section(monkeypatch: pytest.MonkeyPatch) -> Callable[..., RestCatalog]:
    def load(server: IcebergRestServer, *, write: bool = True, **who: str) -> RestCatalog:
        for name, value in _variables(server, **who).items():
            monkeypatch.setenv(name, value)
        env = validate_environment("floe.yaml", "test", _raw(server, write=write))
        assert env.catalog is not None
        return env.catalog

    return load


def test_whole_path_passes_with_exact_details(
    server: IcebergRestServer, catalog_section: Callable[..., RestCatalog]
) -> None:
    before = _namespaces(server)
    result = run_check("catalog", catalog_section(server), timeout=20, slow_ms=600_000)
    assert result.status == "ok", result.line()
    namespace = result.details["write_namespace"]
    assert SCRATCH.fullmatch(namespace)
    assert result.details["write_path"] == ALL_OK
    assert result.details["write_credentials"] == "storage"
    assert "warnings" not in result.details
    assert result.message == (
        f"OAuth2 token valid 3600 s; config read; {len(before)} namespace(s) listed; data path "
        f"ok: wrote and read back 1 row in {namespace}.probe (the storage section's "
        "credentials), dropped it."
    )


def test_read_only_storage_key_fails_at_the_append(
    server: IcebergRestServer, catalog_section: Callable[..., RestCatalog]
) -> None:
    section = catalog_section(server, storage="s3_reader")
    result = run_check("catalog", section, timeout=20, slow_ms=600_000)
    assert result.status == "error"
    details = result.details
    namespace = details["write_namespace"]
    location = f"s3://{server.warehouse}/{namespace}/probe"
    assert details["failure"] == "write_denied"
    assert details["step"] == "append"
    assert details["location"] == location
    assert details["write_path"] == {
        "create_namespace": "ok",
        "create_table": "ok",
        "append": "error",
        "read_back": "skipped",
        "drop_table": "ok",
        "drop_namespace": "ok",
    }
    assert result.message.endswith(
        f"namespace(s) listed; data path failed at append: the storage denied writing a data "
        f"file under {location} (CreateMultipartUpload)."
    )
    assert result.remediation == (
        "the storage credential environments.test.storage.access_key_id (${WC_S3_KEY}), "
        "environments.test.storage.secret_access_key (${WC_S3_SECRET}) can read but not write "
        f"the table's data files at {location}: grant it s3:PutObject (and s3:DeleteObject, "
        "for the drop) on that location, or let the catalog vend credentials."
    )
    assert server.keys["s3_reader"][1] not in result.model_dump_json()


def test_catalog_principal_without_create_rights_fails_at_create_namespace(
    server: IcebergRestServer, catalog_section: Callable[..., RestCatalog]
) -> None:
    section = catalog_section(server, catalog="catalog_reader")
    result = run_check("catalog", section, timeout=20, slow_ms=600_000)
    assert result.status == "error"
    assert result.details["failure"] == "authorization"
    assert result.details["step"] == "create_namespace"
    assert result.details["write_path"] == {
        "create_namespace": "error",
        **dict.fromkeys(STEPS[1:], "skipped"),
    }
    assert result.message.endswith(
        "data path failed at create_namespace: ForbiddenException: not authorized to create "
        "namespace in this bucket."
    )
    assert result.remediation == (
        "the catalog principal environments.test.catalog.client_id (${WC_CLIENT_ID}) may not "
        "create namespaces in warehouse 'warehouse': grant it namespace and table create, write "
        "and drop rights on a scratch namespace (Polaris: a catalog role with NAMESPACE_CREATE, "
        "TABLE_CREATE, TABLE_WRITE_DATA, TABLE_DROP, NAMESPACE_DROP), or turn the data path off "
        "(environments.test.catalog.write_check)."
    )


def _rest(server: IcebergRestServer, method: str, path: str, **kwargs: object) -> int:
    """One catalog REST call with the full identity; its HTTP status."""
    token = requests.post(
        f"{server.uri}/v1/oauth/tokens",
        data={
            "grant_type": "client_credentials",
            "client_id": server.client_id,
            "client_secret": server.client_secret,
        },
        timeout=10,
    ).json()["access_token"]
    answer = requests.request(
        method,
        f"{server.uri}/v1/{server.warehouse}/{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        **kwargs,  # type: ignore[arg-type]
    )
    return answer.status_code


def test_a_namespace_that_cannot_be_dropped_is_a_warning_naming_it(
    server: IcebergRestServer,
    catalog_section: Callable[..., RestCatalog],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second table appears in the scratch namespace while the check runs (another writer):
    SeaweedFS then refuses to drop the namespace (409 "Namespace is not empty"), a real
    refusal; the check passes with a warning naming the leftover."""
    from floe_checks.probes import catalog_write

    created: list[str] = []
    real_vended = catalog_write._vended

    def vended_and_intruder(table: Any, storage: dict[str, str]) -> bool:
        namespace = table.name()[0]
        schema = {"type": "struct", "schema-id": 0, "fields": []}
        status = _rest(
            server,
            "POST",
            f"namespaces/{namespace}/tables",
            json={"name": "intruder", "schema": schema},
        )
        assert status == 200
        created.append(namespace)
        return real_vended(table, storage)

    monkeypatch.setattr(catalog_write, "_vended", vended_and_intruder)
    try:
        result = run_check("catalog", catalog_section(server), timeout=20, slow_ms=600_000)
    finally:
        for namespace in created:
            assert _rest(server, "DELETE", f"namespaces/{namespace}/tables/intruder") == 204
            assert _rest(server, "DELETE", f"namespaces/{namespace}") == 204
    (namespace,) = created
    assert result.status == "warning", result.line()
    assert result.details["write_path"] == {**ALL_OK, "drop_namespace": "error"}
    warning = (
        f"the scratch namespace {namespace} could not be dropped (NamespaceNotEmptyError: "
        "NamespaceNotEmptyException: Namespace is not empty): drop it by hand, and grant the "
        "principal in environments.test.catalog.client_id (${WC_CLIENT_ID}) the right to drop "
        "what it creates."
    )
    assert result.details["warnings"] == [warning]
    assert result.remediation == warning


def test_read_only_by_default_writes_nothing(
    server: IcebergRestServer, catalog_section: Callable[..., RestCatalog]
) -> None:
    before = _namespaces(server)
    result = run_check("catalog", catalog_section(server, write=False), timeout=20)
    assert result.status == "ok", result.line()
    assert "write_path" not in result.details
    assert "data path" not in result.message
    assert _namespaces(server) == before


def test_run_option_turns_the_path_on(
    server: IcebergRestServer, catalog_section: Callable[..., RestCatalog]
) -> None:
    section = catalog_section(server, write=False)
    result = run_check("catalog", section, timeout=20, slow_ms=600_000, write=True)
    assert result.status == "ok", result.line()
    assert result.details["write_path"] == ALL_OK
    assert section.write_check is False  # the run's copy, not the user's section


@pytest.fixture
def floe_yaml(tmp_path: Path, server: IcebergRestServer) -> Path:
    path = tmp_path / "floe.yaml"
    # the environment as users write it: write_check off, the run's option turns it on
    path.write_text(json.dumps({"environments": {"lake": _raw(server, write=False)}}))
    return path


def test_cli_write_runs_the_data_path(floe_yaml: Path, server: IcebergRestServer) -> None:
    env = {
        **os.environ,
        **_variables(server),
        "PYTEST_ADDOPTS": "--floe-slow-ms=600000",
    }
    argv = ["preflight", "--config", str(floe_yaml), "--env", "lake", "--check-catalog"]
    done = subprocess.run(
        [str(BIN / "floe"), *argv, "--write", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    (catalog,) = report["checks"]  # --check-catalog: the storage section is read, not checked
    assert catalog["status"] == "ok"
    assert catalog["details"]["write_path"] == ALL_OK
    assert server.client_secret not in done.stdout + done.stderr


def test_pytest_floe_write_runs_the_data_path(
    pytester: pytest.Pytester, floe_yaml: Path, server: IcebergRestServer
) -> None:
    (pytester.path / "floe.yaml").write_text(floe_yaml.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\n")
    for name, value in _variables(server).items():
        os.environ[name] = value  # the subprocess inherits them; removed below
    try:
        args = ("-p", "no:cacheprovider", "--floe-env=lake", "-m", "preflight")
        args += ("--floe-check=catalog", "--floe-slow-ms=600000")
        plain = pytester.runpytest_subprocess(*args, "--floe-report=plain.json")
        written = pytester.runpytest_subprocess(*args, "--floe-write", "--floe-report=w.json")
    finally:
        for name in _variables(server):
            os.environ.pop(name, None)
    plain.assert_outcomes(passed=1)
    written.assert_outcomes(passed=1)
    (plain_check,) = json.loads((pytester.path / "plain.json").read_text())["checks"]
    (write_check,) = json.loads((pytester.path / "w.json").read_text())["checks"]
    assert "write_path" not in plain_check["details"]
    assert write_check["details"]["write_path"] == ALL_OK


@pytest.mark.evidence("static")
def test_write_check_must_be_a_boolean(monkeypatch: pytest.MonkeyPatch) -> None:
    from floe_checks.errors import ConfigError

    monkeypatch.setenv("WC_CLIENT_SECRET", "s3cr3t-value")  # pragma: allowlist secret
    raw = {
        "type": "polaris",
        "uri": "http://127.0.0.1:1",
        "client_id": "id",
        "client_secret": "${WC_CLIENT_SECRET}",
        "write_check": "sometimes",
    }
    with pytest.raises(ConfigError) as caught:
        validate_environment("floe.yaml", "prod", {"catalog": raw})
    assert str(caught.value) == (
        "floe.yaml: environments.prod.catalog.write_check: Input should be a valid boolean, "
        "unable to interpret input."
    )


@pytest.mark.evidence("static")
def test_check_catalog_reads_the_storage_section_only_when_writing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--check-catalog validates only the catalog; with the data path on, the storage section
    (whose keys the data files are written with) comes along, and its variables must be set."""
    for name in ("WC_CLIENT_ID", "WC_CLIENT_SECRET", "WC_S3_KEY", "WC_S3_SECRET"):
        monkeypatch.setenv(name, f"{name.lower()}-value")
    server = IcebergRestServer("http://127.0.0.1:1", "i", "s", "warehouse", "http://127.0.0.1:2", 0)
    raw = _raw(server, write=False)
    read_only = validate_environment("floe.yaml", "prod", raw, ["catalog"])
    assert list(read_only.sections()) == ["catalog"]
    written = validate_environment("floe.yaml", "prod", raw, ["catalog"], write=True)
    assert list(written.sections()) == ["storage", "catalog"]
    assert written.catalog is not None
    assert written.catalog.storage_section() is written.storage
    opted_in = {**raw, "catalog": {**raw["catalog"], "write_check": True}}  # type: ignore[dict-item]
    assert list(validate_environment("floe.yaml", "prod", opted_in, ["catalog"]).sections()) == [
        "storage",
        "catalog",
    ]


@pytest.mark.evidence("static")
def test_the_runner_waits_one_timeout_per_data_path_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from floe_checks.preflight.runner import WATCHDOG_GRACE, watchdog_budget

    monkeypatch.setenv("WC_CLIENT_SECRET", "s3cr3t-value")  # pragma: allowlist secret
    raw = {
        "type": "polaris",
        "uri": "http://127.0.0.1:1",
        "client_id": "id",
        "client_secret": "${WC_CLIENT_SECRET}",
    }
    section = validate_environment("floe.yaml", "prod", {"catalog": raw}).catalog
    assert section is not None
    assert watchdog_budget(section, 10) == 10 + WATCHDOG_GRACE
    writing = section.model_copy(update={"write_check": True})
    assert watchdog_budget(writing, 10) == 10 * 7 + WATCHDOG_GRACE  # the token chain + 6 steps
