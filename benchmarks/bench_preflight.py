"""Preflight benchmark: prints Markdown tables.

1. A whole preflight run against the local real servers (PostgreSQL, moto S3 with IAM,
   SeaweedFS's Iceberg REST catalog, the Trino stand-in): checks run concurrently (``-n auto``,
   and the default in-process thread pool) versus one after another (``--floe-jobs 1``), through
   ``pytest`` and through ``floe preflight``.
2. The harness's overhead per backend: ``run_check`` (runner + probe + result model) versus
   the same client calls made directly.

Run from the repository root: ``.venv/bin/python benchmarks/bench_preflight.py [--repeat N]``.
It starts and stops its own servers (loopback only, stopped by PID).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from floe_checks.config import Section, validate_environment  # noqa: E402
from floe_checks.preflight.runner import run_check  # noqa: E402
from floe_checks.servers.trino import TrinoSecurity, TrinoServer, throwaway_trino  # noqa: E402
from tests.preflight import local_servers  # noqa: E402

BIN = Path(sys.executable).parent
BUCKET = "floe-bench"
# Least-privilege identities, so every check is "ok" (the admin key and the superuser would
# pass with warnings): Dagster's own role owning its database, and moto's ``writer`` key.
PG_USER = "floe_bench"
PG_PASSWORD = secrets.token_urlsafe(12)


def _security(trino: TrinoServer) -> TrinoSecurity:
    assert trino.security is not None, "started with TrinoSecurity"
    return trino.security


def _environment(
    trino: TrinoServer,
    s3: local_servers.S3Server,
    catalog: local_servers.IcebergRestServer,
    pg: Any,
) -> tuple[dict[str, Any], dict[str, str]]:
    key, secret = s3.keys["writer"]
    sections = {
        "compute": {
            "type": "trino",
            "host": "127.0.0.1",
            "port": trino.client_port,
            "user": _security(trino).user,
            "http_scheme": "https",
            "ca_bundle": str(trino.ca_bundle),
            "password": "${TRINO_PASSWORD}",
        },
        "storage": {
            "type": "s3",
            "bucket": BUCKET,
            "endpoint_url": s3.endpoint_url,
            "path_style": True,
            "access_key_id": "${AWS_ACCESS_KEY_ID}",
            "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
        },
        "catalog": {
            "type": "polaris",
            "uri": catalog.uri,
            "warehouse": catalog.warehouse,
            "client_id": "${POLARIS_CLIENT_ID}",
            "client_secret": "${POLARIS_CLIENT_SECRET}",
        },
        "postgres": {
            "host": "127.0.0.1",
            "port": pg.port,
            "user": PG_USER,
            "database": PG_USER,
            "password": "${DAGSTER_PG_PASSWORD}",
        },
    }
    env = {
        "TRINO_PASSWORD": _security(trino).password.get_secret_value(),
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "POLARIS_CLIENT_ID": catalog.client_id,
        "POLARIS_CLIENT_SECRET": catalog.client_secret,
        "DAGSTER_PG_PASSWORD": PG_PASSWORD,
    }
    return sections, env


def _wall(argv: list[str], cwd: Path, env: dict[str, str], repeat: int) -> float:
    """Median wall time (ms) of a command that must exit 0."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(
            argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, check=False
        )
        times.append((time.perf_counter() - started) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return statistics.median(times)


def _report_sum(argv: list[str], cwd: Path, env: dict[str, str]) -> int:
    done = subprocess.run(
        argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout)
    return sum(int(c["duration_ms"]) for c in report["checks"])


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up: imports, connection pools, TLS session set-up on the server side
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _direct_calls(
    trino: TrinoServer,
    s3: local_servers.S3Server,
    catalog: local_servers.IcebergRestServer,
    pg: Any,
) -> dict[str, Callable[[], object]]:
    """The same client operations each probe performs, without the harness."""
    import boto3
    import psycopg2
    import requests
    import trino as trino_client
    from botocore.config import Config
    from botocore.exceptions import ClientError

    from floe_checks.least_privilege import POSTGRES_ROLES_SQL

    def trino_select() -> object:
        session = requests.Session()
        session.verify = str(trino.ca_bundle)
        session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify (psf/requests#3829)
        security = _security(trino)
        conn = trino_client.dbapi.connect(  # type: ignore[no-untyped-call]
            host="127.0.0.1",
            port=trino.client_port,
            user=security.user,
            http_scheme="https",
            auth=trino_client.auth.BasicAuthentication(
                security.user, security.password.get_secret_value()
            ),
            http_session=session,
            request_timeout=10,
            max_attempts=1,
        )
        cur = conn.cursor()
        cur.execute("SELECT 1")
        rows = cur.fetchall()
        conn.close()
        return rows

    key, secret = s3.keys["writer"]

    def s3_round_trip() -> object:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=s3.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(
                connect_timeout=10,
                read_timeout=10,
                retries={"total_max_attempts": 1},
                s3={"addressing_style": "path"},
            ),
        )
        client.head_bucket(Bucket=BUCKET)
        client.list_objects_v2(Bucket=BUCKET, Prefix="floe-preflight/", MaxKeys=1)
        name = f"floe-preflight/direct-{secrets.token_hex(4)}"
        client.put_object(Bucket=BUCKET, Key=name, Body=b"x")
        body = client.get_object(Bucket=BUCKET, Key=name)["Body"].read()
        client.delete_object(Bucket=BUCKET, Key=name)
        # The least-privilege probes (both denied for this key).
        for call, kwargs in (
            (client.list_buckets, {}),
            (client.delete_object, {"Bucket": BUCKET, "Key": f"outside-{secrets.token_hex(8)}"}),
        ):
            with contextlib.suppress(ClientError):
                call(**kwargs)
        return body

    def catalog_calls() -> object:
        token = requests.post(
            f"{catalog.uri}/v1/oauth/tokens",
            data={
                "grant_type": "client_credentials",
                "client_id": catalog.client_id,
                "client_secret": catalog.client_secret,
                "scope": "PRINCIPAL_ROLE:ALL",
            },
            timeout=10,
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        requests.get(
            f"{catalog.uri}/v1/config",
            params={"warehouse": catalog.warehouse},
            headers=auth,
            timeout=10,
        )
        return requests.get(
            f"{catalog.uri}/v1/{catalog.warehouse}/namespaces", headers=auth, timeout=10
        ).json()

    def postgres_calls() -> object:
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=pg.port,
            user=PG_USER,
            password=PG_PASSWORD,
            dbname=PG_USER,
            connect_timeout=10,
        )
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
            cur.execute("SHOW server_version")
            cur.fetchone()
            cur.execute(POSTGRES_ROLES_SQL)
            cur.fetchall()
            cur.execute(f"CREATE TABLE public.floe_direct_{secrets.token_hex(4)} (id integer)")
        conn.rollback()
        conn.close()
        return None

    def duckdb_select() -> object:
        import duckdb

        conn = duckdb.connect(":memory:")
        row = conn.execute("SELECT 1").fetchone()
        conn.close()
        return row

    return {
        "compute (trino)": trino_select,
        "storage (s3)": s3_round_trip,
        "catalog (polaris)": catalog_calls,
        "postgres": postgres_calls,
        "compute (duckdb)": duckdb_select,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="runs per whole-run measurement")
    parser.add_argument("--calls", type=int, default=15, help="calls per overhead measurement")
    args = parser.parse_args()

    import warnings

    import boto3

    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    with contextlib.ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="floe-bench-")))
        pg = stack.enter_context(local_servers.postgres_server())
        s3 = stack.enter_context(local_servers.s3_iam_server(base))
        catalog = stack.enter_context(local_servers.iceberg_rest_server(base))
        trino = stack.enter_context(throwaway_trino(security=TrinoSecurity()))
        pg.execute(
            f"CREATE ROLE {PG_USER} LOGIN PASSWORD '{PG_PASSWORD}'",
            f"CREATE DATABASE {PG_USER} OWNER {PG_USER}",
        )
        key, secret = s3.keys["admin"]
        boto3.client(
            "s3",
            endpoint_url=s3.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        ).create_bucket(Bucket=BUCKET)
        sections, env = _environment(trino, s3, catalog, pg)
        (base / "floe.yaml").write_text(
            yaml.safe_dump({"environments": {"bench": sections}}), encoding="utf-8"
        )

        pytest_base = [str(BIN / "pytest"), "--floe-env=bench", "-m", "preflight", "-q"]
        pytest_base += ["-p", "no:cacheprovider"]
        floe_base = [str(BIN / "floe"), "preflight", "--env", "bench"]
        runs = [
            ("pytest -n auto (xdist workers)", [*pytest_base, "-n", "auto"]),
            ("pytest, in-process thread pool (default)", [*pytest_base, "-p", "no:xdist"]),
            (
                "pytest, one after another (--floe-jobs 1)",
                [*pytest_base, "-p", "no:xdist", "--floe-jobs", "1"],
            ),
            ("floe preflight (concurrent, default)", floe_base),
            ("floe preflight --jobs 1 (one after another)", [*floe_base, "--jobs", "1"]),
        ]
        checks_sum = _report_sum([*floe_base, "--json", "--jobs", "1"], base, env)
        print(
            "## Whole preflight run: 4 checks (trino, s3, polaris, postgres), "
            f"median of {args.repeat}\n"
        )
        print(f"Sum of the four check durations (one after another): {checks_sum} ms\n")
        print("| how | wall time (ms) |")
        print("|---|---:|")
        for label, argv in runs:
            print(f"| {label} | {_wall(argv, base, env, args.repeat):.0f} |")

        for name, value in env.items():
            os.environ[name] = value
        environment = validate_environment(
            "floe.yaml", "bench", {**sections, "compute": sections["compute"]}
        )
        duck = validate_environment("floe.yaml", "bench", {"compute": {"type": "duckdb"}})
        harness: dict[str, tuple[str, Section]] = {
            "compute (trino)": ("compute", environment.sections()["compute"]),
            "storage (s3)": ("storage", environment.sections()["storage"]),
            "catalog (polaris)": ("catalog", environment.sections()["catalog"]),
            "postgres": ("postgres", environment.sections()["postgres"]),
            "compute (duckdb)": ("compute", duck.sections()["compute"]),
        }
        direct = _direct_calls(trino, s3, catalog, pg)
        print(f"\n## Harness overhead per check, in-process, median of {args.calls} calls\n")
        print("| check | client calls directly (ms) | run_check (ms) | overhead (ms) |")
        print("|---|---:|---:|---:|")
        for label, (service, section) in harness.items():
            direct_ms = _median_ms(direct[label], args.calls)

            def harnessed(service: str = service, section: Section = section) -> object:
                result = run_check(service, section, timeout=10, slow_ms=60_000)
                if result.status != "ok":
                    raise SystemExit(result.line())
                return result

            run_ms = _median_ms(harnessed, args.calls)
            print(f"| {label} | {direct_ms:.1f} | {run_ms:.1f} | {run_ms - direct_ms:+.1f} |")


if __name__ == "__main__":
    main()
