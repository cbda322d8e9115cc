"""Trino's Iceberg connector (``plugin/iceberg``, added by scripts/setup.d/60-trino.sh) on the
Iceberg REST catalog the suite already runs: SeaweedFS ``weed mini`` with OAuth2 client
credentials (its S3 key pair) and its S3 endpoint for the data files. A Trino of its own
(plain http, loopback): the shared ``trino`` fixture has no iceberg catalog.

CREATE SCHEMA, CREATE TABLE, INSERT and SELECT through Trino, the values read back exactly;
then the same table read with pyiceberg through the REST catalog, so the data really is in
the catalog and on S3, not only in Trino.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from floe_checks.errors import FloeError, PrerequisiteMissing
from floe_checks.servers.trino import TrinoServer, find_install
from tests.preflight import local_servers
from tests.preflight.local_servers import IcebergRestServer

pytestmark = pytest.mark.evidence("service")


def iceberg_catalog(rest: IcebergRestServer) -> dict[str, str]:
    """Trino catalog properties for the REST catalog with OAuth2 and its S3 endpoint."""
    credential = f"{rest.client_id}:{rest.client_secret}"
    return {
        "connector.name": "iceberg",
        "iceberg.catalog.type": "rest",
        "iceberg.rest-catalog.uri": rest.uri,
        "iceberg.rest-catalog.warehouse": rest.warehouse,
        "iceberg.rest-catalog.security": "OAUTH2",
        "iceberg.rest-catalog.oauth2.credential": credential,
        "iceberg.rest-catalog.oauth2.server-uri": f"{rest.uri}/v1/oauth/tokens",
        "fs.native-s3.enabled": "true",
        "s3.endpoint": rest.s3_endpoint,
        "s3.region": "us-east-1",
        "s3.path-style-access": "true",
        "s3.aws-access-key": rest.client_id,
        "s3.aws-secret-key": rest.client_secret,
    }


@pytest.fixture(scope="module")
def rest_and_trino() -> Iterator[tuple[IcebergRestServer, TrinoServer]]:
    base = Path(tempfile.mkdtemp(prefix="floe-trino-iceberg-"))
    try:
        install = find_install()
    except PrerequisiteMissing as exc:
        pytest.skip(f"real Trino not available: {exc}; {exc.remediation}")
    if "iceberg" not in install.plugins:
        pytest.skip(f"{install.home}/plugin has no iceberg: rerun bash scripts/setup.d/60-trino.sh")
    try:
        with contextlib.ExitStack() as stack:
            rest = stack.enter_context(local_servers.iceberg_rest_server(base))
            server = TrinoServer(base / "trino", catalogs={"iceberg": iceberg_catalog(rest)})
            stack.callback(server.stop)
            try:
                server.start(timeout=180)
            except PrerequisiteMissing as exc:
                pytest.skip(f"real Trino not available: {exc}; {exc.remediation}")
            except FloeError as exc:
                log = (base / "trino" / "trino.log").read_text(encoding="utf-8", errors="replace")
                pytest.fail(f"Trino did not start: {exc}\n{log[-4000:]}", pytrace=False)
            yield rest, server
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _query(trino: TrinoServer, sql: str) -> list[list[Any]]:
    import trino as trino_client

    conn = trino_client.dbapi.connect(  # type: ignore[no-untyped-call]
        host=trino.host, port=trino.port, user="floe", catalog="iceberg"
    )
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        conn.close()


def test_iceberg_round_trip_through_rest_catalog(
    rest_and_trino: tuple[IcebergRestServer, TrinoServer],
) -> None:
    rest, trino = rest_and_trino
    # DDL answers no rows through the client
    assert _query(trino, "CREATE SCHEMA iceberg.spike") == []
    assert (
        _query(
            trino,
            "CREATE TABLE iceberg.spike.orders (id bigint, status varchar, amount decimal(12,2))",
        )
        == []
    )
    assert _query(
        trino,
        "INSERT INTO iceberg.spike.orders VALUES "
        "(1, 'open', DECIMAL '10.25'), (2, 'open', DECIMAL '4.75'), (3, 'shipped', DECIMAL '7.10')",
    ) == [[3]]
    assert _query(
        trino,
        "SELECT status, sum(amount), count(*) FROM iceberg.spike.orders GROUP BY status"
        " ORDER BY status",
    ) == [["open", Decimal("15.00"), 2], ["shipped", Decimal("7.10"), 1]]

    # the same rows through the REST catalog itself (pyiceberg, OAuth2), read from S3
    from pyiceberg.catalog.rest import RestCatalog

    catalog = RestCatalog(
        "weed",
        uri=rest.uri,
        credential=f"{rest.client_id}:{rest.client_secret}",
        warehouse=rest.warehouse,
        **{
            "oauth2-server-uri": f"{rest.uri}/v1/oauth/tokens",
            "s3.endpoint": rest.s3_endpoint,
            "s3.access-key-id": rest.client_id,
            "s3.secret-access-key": rest.client_secret,
            "s3.region": "us-east-1",
            "s3.path-style-access": "true",
        },
    )
    rows = catalog.load_table("spike.orders").scan().to_arrow().sort_by("id").to_pylist()
    assert rows == [
        {"id": 1, "status": "open", "amount": Decimal("10.25")},
        {"id": 2, "status": "open", "amount": Decimal("4.75")},
        {"id": 3, "status": "shipped", "amount": Decimal("7.10")},
    ]
