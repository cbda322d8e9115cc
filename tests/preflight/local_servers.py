"""Local real servers for the preflight tests and the preflight benchmark, as context
managers: each listens on a free loopback port, has telemetry off, and is stopped by its PID
when the ``with`` block ends (see ``conftest.py`` for the fixtures built on them).

* :func:`postgres_server` — a throwaway PostgreSQL cluster (:class:`PostgresServer`);
* :func:`s3_server` — ``moto_server`` (S3 API, any credentials accepted);
* :func:`s3_iam_server` — ``moto_server`` enforcing IAM: an ``admin`` key pair allowed
  everything, a ``reader`` key pair allowed only to list and read, and a ``writer`` allowed
  what the storage check needs and no more (least privilege: no warning);
* :func:`iceberg_rest_server` — SeaweedFS ``weed mini``: an Iceberg REST catalog with OAuth2
  client credentials (its S3 key pair) and the table bucket ``warehouse``;
* :func:`blackhole` — a socket that accepts TCP connections and never answers;
* :func:`cube_server` — Cube 0.33.65 from ``demo/cube`` over a one-table model in PostgreSQL;
* :func:`dagster_server` — ``dagster-webserver`` over an empty code location.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from floe_checks.ports import free_port, is_listening
from floe_checks.servers.postgres import PostgresServer, throwaway_postgres
from floe_checks.servers.process import ManagedProcess

VENV_BIN = Path(sys.executable).parent
HERE = Path(__file__).parent


@dataclass(frozen=True)
class S3Server:
    """A moto S3 endpoint. With IAM on, ``keys`` maps a role name to (access key, secret)."""

    endpoint_url: str
    port: int
    pid: int
    keys: dict[str, tuple[str, str]]
    region: str = "us-east-1"


@dataclass(frozen=True)
class IcebergRestServer:
    """SeaweedFS's Iceberg REST catalog; OAuth2 client id/secret = its S3 key pair.

    ``keys`` holds two narrower identities beside the full one: ``s3_reader`` (S3 actions
    Read and List: reads data files, may not write them; the catalog refuses it) and
    ``catalog_reader`` (Read, List and the S3 Tables actions ListNamespaces, GetTableBucket and
    GetNamespace: lists the catalog, may not create a namespace)."""

    uri: str
    client_id: str
    client_secret: str
    warehouse: str
    s3_endpoint: str
    pid: int
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Blackhole:
    """Accepts TCP connections on ``host:port`` and never sends a byte."""

    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _start(
    name: str,
    argv: list[str],
    log_dir: Path,
    ready: Callable[[], bool],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    stop_signal: int = signal.SIGTERM,
) -> ManagedProcess:
    """Start a server and wait until ``ready()``; stop it again if it never gets there."""
    process = ManagedProcess(
        name,
        argv,
        log_path=log_dir / f"{name}.log",
        env={**os.environ, **(env or {})},
        cwd=log_dir,
        stop_signal=stop_signal,
    ).start()
    try:
        process.wait_ready(ready, timeout)
    except BaseException:
        process.stop()
        raise
    return process


def _subdir(base: Path, name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
    return path


def postgres_server() -> contextlib.AbstractContextManager[PostgresServer]:
    """A PostgreSQL cluster with scram password auth on a free loopback port."""
    return throwaway_postgres("floe-pg-")


def _moto(
    log_dir: Path, name: str, env: dict[str, str] | None = None
) -> tuple[ManagedProcess, int]:
    port = free_port()
    argv = [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    process = _start(name, argv, log_dir, lambda: is_listening(port), env=env)
    return process, port


@contextlib.contextmanager
def s3_server(base: Path) -> Iterator[S3Server]:
    """moto's S3 API; it accepts any credentials."""
    process, port = _moto(_subdir(base, "moto"), "moto")
    try:
        yield S3Server(f"http://127.0.0.1:{port}", port, process.pid, {})
    finally:
        process.stop()


@contextlib.contextmanager
def s3_iam_server(base: Path) -> Iterator[S3Server]:
    """moto with IAM enforced: keys ``admin`` (everything), ``reader`` (list and get) and
    ``writer`` (list, get, put and delete under ``floe-preflight/`` of any bucket)."""
    import boto3

    # The first nine requests (the IAM set-up below) may go unsigned; every later one is checked.
    process, port = _moto(
        _subdir(base, "moto-iam"), "moto-iam", {"INITIAL_NO_AUTH_ACTION_COUNT": "9"}
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="setup",
            aws_secret_access_key="setup",  # pragma: allowlist secret
        )
        # moto authorises HEAD bucket as "s3:HeadBucket" (AWS uses s3:ListBucket for it).
        bucket_actions = ["s3:ListBucket", "s3:HeadBucket", "s3:GetBucketLocation"]
        policies: dict[str, list[dict[str, object]]] = {
            "admin": [{"Effect": "Allow", "Action": ["*"], "Resource": "*"}],
            "reader": [
                {"Effect": "Allow", "Action": [*bucket_actions, "s3:GetObject"], "Resource": "*"}
            ],
            # Least privilege: no ListAllMyBuckets, objects only under the probe prefix.
            "writer": [
                {"Effect": "Allow", "Action": bucket_actions, "Resource": "arn:aws:s3:::*"},
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": "arn:aws:s3:::*/floe-preflight/*",
                },
            ],
        }
        keys: dict[str, tuple[str, str]] = {}
        for user, statements in policies.items():
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            document = {"Version": "2012-10-17", "Statement": statements}
            iam.put_user_policy(
                UserName=user, PolicyName=f"{user}-policy", PolicyDocument=json.dumps(document)
            )
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        yield S3Server(endpoint, port, process.pid, keys)
    finally:
        process.stop()


@contextlib.contextmanager
def iceberg_rest_server(base: Path) -> Iterator[IcebergRestServer]:
    """SeaweedFS ``weed mini``: S3 plus an Iceberg REST catalog with OAuth2, loopback only."""
    import requests

    base = _subdir(base, "weed")
    client_id = f"floe{secrets.token_hex(6)}"
    client_secret = secrets.token_urlsafe(24)
    narrow = {
        "s3_reader": ["Read", "List"],
        # checked on weed 4.48: without the s3tables actions, listing answers 404 "table
        # bucket warehouse not found"; with them it lists, and creating a namespace is a 403
        "catalog_reader": [
            "Read",
            "List",
            "s3tables:ListNamespaces",
            "s3tables:GetTableBucket",
            "s3tables:GetNamespace",
        ],
    }
    keys = {
        name: (f"{name.replace('_', '')}{secrets.token_hex(4)}", secrets.token_urlsafe(24))
        for name in narrow
    }
    config = {
        "identities": [
            {
                "name": "floe",
                "credentials": [{"accessKey": client_id, "secretKey": client_secret}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            *(
                {
                    "name": name,
                    "credentials": [{"accessKey": keys[name][0], "secretKey": keys[name][1]}],
                    "actions": actions,
                }
                for name, actions in narrow.items()
            ),
        ]
    }
    (base / "s3.json").write_text(json.dumps(config), encoding="utf-8")
    ports = {
        name: free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "s3.port.iceberg",
            "admin.port",
            "admin.port.grpc",
        )
    }
    argv = [
        str(VENV_BIN / "weed"),
        "mini",
        f"-dir={base / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        f"-s3.config={base / 's3.json'}",
        "-tableBucket=warehouse",
        "-s3.port.lance=0",
        f"-filer.localSocket={base / 'filer.sock'}",
        f"-s3.localSocket={base / 's3.sock'}",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    uri = f"http://127.0.0.1:{ports['s3.port.iceberg']}"

    def ready() -> bool:
        answer = requests.post(
            f"{uri}/v1/oauth/tokens",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
            },
            timeout=2,
        )
        if answer.status_code != 200:
            return False
        # The table bucket is created a moment after the catalog starts answering.
        listing = requests.get(
            f"{uri}/v1/warehouse/namespaces",
            headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
            timeout=2,
        )
        return listing.status_code == 200

    (base / "data").mkdir()
    process = _start("weed", argv, base, ready, timeout=60)
    try:
        yield IcebergRestServer(
            uri=uri,
            client_id=client_id,
            client_secret=client_secret,
            warehouse="warehouse",
            s3_endpoint=f"http://127.0.0.1:{ports['s3.port']}",
            pid=process.pid,
            keys=keys,
        )
    finally:
        process.stop()


_BLACKHOLE = """
import socket, sys, time
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen(512)  # the kernel completes handshakes into the backlog; nobody ever reads
while True:
    time.sleep(3600)
"""


@contextlib.contextmanager
def blackhole(base: Path) -> Iterator[Blackhole]:
    """A TCP endpoint that accepts connections and never answers (a silent firewall or a hung
    server): what a client meets when only its read timeout can save it."""
    port = free_port()
    process = _start(
        "blackhole",
        [sys.executable, "-c", _BLACKHOLE, str(port)],
        _subdir(base, "blackhole"),
        lambda: is_listening(port),
    )
    try:
        yield Blackhole("127.0.0.1", port, process.pid)
    finally:
        process.stop()


REPO = HERE.parents[1]
CUBE_DIR = REPO / "demo" / "cube"  # Cube 0.33.65, installed by scripts/setup.d/40-cube.sh
CUBE_SERVER = CUBE_DIR / "node_modules" / "@cubejs-backend" / "server" / "bin" / "server"
CUBE_MODEL = """cubes:
  - name: probe_orders
    sql_table: public.floe_probe_orders
    measures:
      - name: count
        type: count
"""


@dataclass(frozen=True)
class CubeServer:
    """Cube's REST API at ``url``; tokens are HS256-signed with ``api_secret``; one cube,
    ``probe_orders``."""

    url: str
    api_secret: str
    pid: int


def cube_missing() -> str | None:
    """Why Cube cannot start here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH (Cube 0.33 needs Node.js 20); run scripts/setup.sh"
    if not CUBE_SERVER.is_file():
        return f"Cube 0.33 is not installed in {CUBE_DIR}: run scripts/setup.d/40-cube.sh"
    return None


@contextlib.contextmanager
def cube_server(base: Path, postgres: PostgresServer) -> Iterator[CubeServer]:
    """Cube 0.33.65 (the demo's install) in production mode with the in-memory cache driver,
    over a one-table model in ``postgres``; bound to 127.0.0.1 by ``loopback.js``."""
    missing = cube_missing()
    if missing:
        raise RuntimeError(missing)
    postgres.execute(
        "CREATE TABLE IF NOT EXISTS public.floe_probe_orders (id integer)",
        "INSERT INTO public.floe_probe_orders VALUES (1), (2)",
    )
    base = _subdir(base, "cube")
    (base / "model").mkdir()
    (base / "model" / "probe_orders.yml").write_text(CUBE_MODEL, encoding="utf-8")
    port = free_port()
    secret = secrets.token_urlsafe(24)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CUBEJS_")}
    env.update(
        {
            "NODE_ENV": "production",
            "CUBEJS_DEV_MODE": "false",
            "PORT": str(port),
            "CUBEJS_DB_TYPE": "postgres",
            "CUBEJS_DB_HOST": postgres.host,
            "CUBEJS_DB_PORT": str(postgres.port),
            "CUBEJS_DB_NAME": "postgres",
            "CUBEJS_DB_USER": "postgres",
            "CUBEJS_DB_PASS": postgres.password,
            "CUBEJS_API_SECRET": secret,
            "CUBEJS_SCHEMA_PATH": "model",
            "CUBEJS_CACHE_AND_QUEUE_DRIVER": "memory",
            "CUBEJS_EXTERNAL_DEFAULT": "false",
            "CUBEJS_DEFAULT_API_SCOPES": "meta,data",
            "CUBEJS_PG_SQL_PORT": "false",
            "CUBEJS_TELEMETRY": "false",
        }
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        import requests

        return requests.get(f"{url}/readyz", timeout=2).status_code == 200

    process = ManagedProcess(
        "cube",
        [str(shutil.which("node")), "-r", str(CUBE_DIR / "loopback.js"), str(CUBE_SERVER)],
        log_path=base / "cube.log",
        env=env,
        cwd=base,
    ).start()
    try:
        process.wait_ready(ready, 60)
        yield CubeServer(url, secret, process.pid)
    finally:
        process.stop()


DAGSTER_DEFS = "import dagster as dg\n\ndefs = dg.Definitions()\n"


@contextlib.contextmanager
def dagster_server(base: Path) -> Iterator[str]:
    """``dagster-webserver`` over an empty code location, telemetry off; yields its URL.
    Stopped with SIGINT (Dagster ignores SIGTERM when started from a non-interactive shell)."""
    base = _subdir(base, "dagster")
    home = base / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    (base / "defs.py").write_text(DAGSTER_DEFS, encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        import requests

        return requests.get(f"{url}/server_info", timeout=2).status_code == 200

    argv = [str(VENV_BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)]
    process = _start(
        "dagster-webserver",
        [*argv, "-f", str(base / "defs.py")],
        base,
        ready,
        env={"DAGSTER_HOME": str(home)},
        timeout=90,
        stop_signal=signal.SIGINT,
    )
    try:
        yield url
    finally:
        process.stop()
