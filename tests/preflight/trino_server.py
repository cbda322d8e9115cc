"""A protocol-faithful stand-in for a Trino coordinator's client REST API.

It stands for **Trino** (the coordinator's ``/v1/statement`` protocol), because no Trino server
can run on our machines (it needs Java 21+ and a download; see PLATFORM.md). It speaks what the
official ``trino`` Python client speaks:

* ``POST /v1/statement`` with the SQL as body → ``{id, infoUri, nextUri, stats}`` (state QUEUED);
* ``GET nextUri`` pages: RUNNING, then the final page with ``columns`` and ``data`` (FINISHED);
* a failed query's final page carries ``error {message, errorCode, errorName, errorType}``,
  which the client raises as ``TrinoUserError``;
* ``X-Trino-User`` is required; with ``--password-env`` set, HTTP basic auth must match that
  user and password, and with ``--jwt-env`` a ``Bearer`` token must match, else 401 with a
  ``WWW-Authenticate`` challenge, as Trino's password authenticator answers;
* ``SELECT 1`` answers whatever the session catalog and schema are, as real Trino does (it
  never reads them); ``SHOW SCHEMAS`` and ``SHOW TABLES`` resolve them: a catalog other than
  those given with ``--catalog`` fails with ``CATALOG_NOT_FOUND`` ("line 1:1: Catalog 'x' not
  found"), a schema other than ``default`` and ``information_schema`` (the memory connector's)
  with ``SCHEMA_NOT_FOUND`` ("line 1:1: Schema 'x' does not exist"), the names and messages
  Trino 483 gives (tests/trino/test_trino_real.py checks them against the real server);
* ``DELETE nextUri`` (the client cancelling or closing) → 204.

With ``--tls-cert``/``--tls-key`` it serves https, as a coordinator with password
authentication must (the client refuses to send credentials over plain http).

What it cannot check: SQL beyond ``SELECT 1``, ``SHOW SCHEMAS`` and ``SHOW TABLES``, real
connectors and catalogs' contents, TLS
client certificates and certificate validation (tests connect with ``verify: false``),
access control rules, resource groups, spooled or encoded results, session properties, or any
behaviour of a real coordinator under load.

Run: ``python tests/preflight/trino_server.py --port PORT [--user U --password-env VAR]``.
Secrets come from environment variables so they never show in a process listing.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import itertools
import json
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)
# the schemas every catalog of the stand-in has (those of Trino's memory connector)
SCHEMAS = frozenset({"default", "information_schema"})
_lock = threading.Lock()


class TrinoDouble:
    """The coordinator's state: credentials, catalogs and the queries in flight."""

    def __init__(
        self,
        base_url: str,
        user: str | None,
        password: str | None,
        jwt: str | None,
        catalogs: set[str],
    ) -> None:
        self.base_url = base_url
        self.user = user
        self.password = password
        self.jwt = jwt
        self.catalogs = catalogs
        # query id -> (pages left to serve before the final one, final page)
        self.queries: dict[str, tuple[int, dict[str, Any]]] = {}

    def authorized(self, headers: Any) -> bool:
        header = str(headers.get("Authorization") or "")
        if self.jwt is not None:
            return hmac.compare_digest(header, f"Bearer {self.jwt}")
        if self.password is not None:
            if not header.startswith("Basic "):
                return False
            try:
                decoded = base64.b64decode(header[6:]).decode("utf-8")
            except ValueError:
                return False
            user, _, password = decoded.partition(":")
            return user == self.user and hmac.compare_digest(password, self.password)
        return True

    def _resolve(
        self, query_id: str, catalog: str | None, schema: str | None
    ) -> dict[str, Any] | None:
        """The failed final page when the session catalog/schema does not exist, else None."""
        if catalog is None or catalog not in self.catalogs:
            return self._failed(
                query_id, f"line 1:1: Catalog '{catalog}' not found", "CATALOG_NOT_FOUND", 44,
                "USER_ERROR",
            )  # fmt: skip
        if schema is not None and schema not in SCHEMAS:
            return self._failed(
                query_id, f"line 1:1: Schema '{schema}' does not exist", "SCHEMA_NOT_FOUND", 45,
                "USER_ERROR",
            )  # fmt: skip
        return None

    def _rows(self, query_id: str, column: str, rows: list[list[Any]]) -> dict[str, Any]:
        return {
            "id": query_id,
            "infoUri": f"{self.base_url}/ui/query.html?{query_id}",
            "columns": [
                {
                    "name": column,
                    "type": "varchar",
                    "typeSignature": {"rawType": "varchar", "arguments": []},
                }
            ],
            "data": rows,
            "stats": self._stats("FINISHED"),
            "warnings": [],
        }

    def start_query(self, sql: str, catalog: str | None, schema: str | None) -> dict[str, Any]:
        with _lock:
            query_id = f"20261125_000000_{next(_ids):05d}_floe"
        text = " ".join(sql.strip().rstrip(";").split()).upper()
        if text == "SHOW SCHEMAS":
            final = self._resolve(query_id, catalog, None) or self._rows(
                query_id, "Schema", [[name] for name in sorted(SCHEMAS)]
            )
        elif text == "SHOW TABLES":
            final = self._resolve(query_id, catalog, schema) or self._rows(query_id, "Table", [])
        elif text == "SELECT 1":
            final = {
                "id": query_id,
                "infoUri": f"{self.base_url}/ui/query.html?{query_id}",
                "columns": [
                    {
                        "name": "_col0",
                        "type": "integer",
                        "typeSignature": {"rawType": "integer", "arguments": []},
                    }
                ],
                "data": [[1]],
                "stats": self._stats("FINISHED"),
                "warnings": [],
            }
        else:
            final = self._failed(
                query_id,
                "line 1:1: mismatched input: only SELECT 1 and SHOW SCHEMAS/TABLES are served",
                "SYNTAX_ERROR",
                1,
                "USER_ERROR",
            )
        self.queries[query_id] = (1, final)
        return {
            "id": query_id,
            "infoUri": f"{self.base_url}/ui/query.html?{query_id}",
            "nextUri": f"{self.base_url}/v1/statement/queued/{query_id}/y0/1",
            "stats": self._stats("QUEUED"),
            "warnings": [],
        }

    def next_page(self, query_id: str, token: int) -> dict[str, Any] | None:
        entry = self.queries.get(query_id)
        if entry is None:
            return None
        left, final = entry
        if left > 0:
            self.queries[query_id] = (left - 1, final)
            return {
                "id": query_id,
                "infoUri": f"{self.base_url}/ui/query.html?{query_id}",
                "nextUri": f"{self.base_url}/v1/statement/executing/{query_id}/y1/{token + 1}",
                "stats": self._stats("RUNNING"),
                "warnings": [],
            }
        del self.queries[query_id]
        return final

    @staticmethod
    def _stats(state: str) -> dict[str, Any]:
        return {
            "state": state,
            "queued": state == "QUEUED",
            "scheduled": state != "QUEUED",
            "nodes": 1,
            "totalSplits": 0,
            "queuedSplits": 0,
            "runningSplits": 0,
            "completedSplits": 0,
            "cpuTimeMillis": 0,
            "wallTimeMillis": 0,
            "queuedTimeMillis": 0,
            "elapsedTimeMillis": 0,
            "processedRows": 0,
            "processedBytes": 0,
            "peakMemoryBytes": 0,
        }

    def _failed(
        self, query_id: str, message: str, name: str, code: int, kind: str
    ) -> dict[str, Any]:
        return {
            "id": query_id,
            "infoUri": f"{self.base_url}/ui/query.html?{query_id}",
            "stats": self._stats("FAILED"),
            "error": {
                "message": message,
                "errorCode": code,
                "errorName": name,
                "errorType": kind,
                "failureInfo": {"type": "io.trino.spi.TrinoException", "message": message},
            },
            "warnings": [],
        }


def make_handler(state: TrinoDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the test log is the client's view

        def _send(
            self, status: int, body: Any = None, headers: dict[str, str] | None = None
        ) -> None:
            raw = b"" if body is None else json.dumps(body).encode("utf-8")
            if isinstance(body, str):
                raw = body.encode("utf-8")
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if body is not None:
                ctype = "text/plain" if isinstance(body, str) else "application/json"
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _guard(self) -> bool:
            if not self.headers.get("X-Trino-User"):
                self._send(400, "Error 400 Bad Request: User must be set")
                return False
            if not state.authorized(self.headers):
                scheme = "Bearer" if state.jwt is not None else 'Basic realm="Trino"'
                self._send(401, "Unauthorized", {"WWW-Authenticate": scheme})
                return False
            return True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            sql = self.rfile.read(length).decode("utf-8")
            if self.path != "/v1/statement":
                self._send(404, "Not Found")
                return
            if not self._guard():
                return
            self._send(
                200,
                state.start_query(
                    sql, self.headers.get("X-Trino-Catalog"), self.headers.get("X-Trino-Schema")
                ),
            )

        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if self.path == "/v1/info":
                self._send(200, {"nodeVersion": {"version": "double"}, "starting": False})
                return
            if len(parts) != 6 or parts[:2] != ["v1", "statement"]:
                self._send(404, "Not Found")
                return
            if not self._guard():
                return
            page = state.next_page(parts[3], int(parts[5]) if parts[5].isdigit() else 0)
            if page is None:
                self._send(410, "Query is gone")
                return
            self._send(200, page)

        def do_DELETE(self) -> None:
            parts = self.path.strip("/").split("/")
            if len(parts) >= 4:
                state.queries.pop(parts[3], None)
            self._send(204)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", default=None, help="the only user basic auth accepts")
    parser.add_argument("--password-env", default=None, help="variable holding the password")
    parser.add_argument("--jwt-env", default=None, help="variable holding the accepted JWT")
    parser.add_argument("--catalog", action="append", default=[], help="catalogs that exist")
    parser.add_argument("--tls-cert", default=None, help="PEM certificate: serve https")
    parser.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    args = parser.parse_args()
    password = os.environ[args.password_env] if args.password_env else None
    jwt = os.environ[args.jwt_env] if args.jwt_env else None
    scheme = "https" if args.tls_cert else "http"
    base = f"{scheme}://127.0.0.1:{args.port}"
    state = TrinoDouble(base, args.user, password, jwt, set(args.catalog))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state))
    server.daemon_threads = True
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
