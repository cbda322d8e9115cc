"""The live demo page: one self-contained HTML page that shows the numbers move (007-FR-030).

``python -m floe_checks.servers.demo_page --port P --cube-url URL --dagster-url URL`` serves,
on 127.0.0.1 (``--host`` only for a container, whose published port is what binds the host:
the Compose demo publishes it on the host's 127.0.0.1):

* ``/`` — the page: HTML, CSS and a few lines of JavaScript inline, nothing from a CDN (a
  presentation room's network is not to be trusted). It fetches ``/api/summary`` every
  ``--refresh`` seconds and fills in the tables.
* ``/api/summary`` — Orders (count and total revenue) in all, by status and by region, read
  from Cube's REST API ``/load`` with ``renewQuery`` (so a finished batch shows as soon as
  Cube's rollup has it), and the end time of the latest successful ``demo_pipeline`` run
  from Dagster's GraphQL API. Cube returns numbers as strings; the page shows those strings
  as they are, so what a reader sees is exactly Cube's answer.
* ``/healthz`` — ``ok``.

The Cube API secret comes from an environment variable, ``FLOE_DEMO_PAGE_CUBE_SECRET`` unless
``--secret-env`` names another (the Compose demo: ``CUBEJS_API_SECRET`` from its env file) —
never argv, which ``ps`` shows; the page signs its Cube tokens on the server, so the browser never
holds the secret.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_VAR = "FLOE_DEMO_PAGE_CUBE_SECRET"
JOB = "demo_pipeline"
TOTALS = {"measures": ["Orders.count", "Orders.total_revenue"]}
BY_STATUS = {**TOTALS, "dimensions": ["Orders.status"], "order": {"Orders.status": "asc"}}
BY_REGION = {**TOTALS, "dimensions": ["Orders.region"], "order": {"Orders.region": "asc"}}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>floe demo — live orders</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2430; background: #f7f8fa; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
.meta { color: #5b6472; margin-bottom: 1.5rem; }
.cards { display: flex; gap: 1rem; margin-bottom: 1.5rem; }
.card { background: #fff; border-radius: 8px; padding: 1rem 1.4rem; box-shadow: 0 1px 3px #0002; }
.card b { display: block; font-size: 2rem; }
.tables { display: flex; gap: 2rem; flex-wrap: wrap; }
table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 3px #0002; }
th, td { padding: .4rem .9rem; text-align: right; border-bottom: 1px solid #e3e6ea; }
th:first-child, td:first-child { text-align: left; }
#error { color: #b00020; }
</style></head>
<body>
<h1>floe demo — live orders</h1>
<div class="meta">latest batch: <span id="latest-batch">-</span> ·
 refreshed: <span id="refreshed-at">-</span> · every REFRESH s <span id="error"></span></div>
<div class="cards">
 <div class="card">orders<b id="total-orders">-</b></div>
 <div class="card">revenue<b id="total-revenue">-</b></div>
</div>
<div class="tables">
 <table><thead><tr><th>status</th><th>orders</th><th>revenue</th></tr></thead>
  <tbody id="by-status"></tbody></table>
 <table><thead><tr><th>region</th><th>orders</th><th>revenue</th></tr></thead>
  <tbody id="by-region"></tbody></table>
</div>
<script>
function rows(id, key, items) {
  const body = document.getElementById(id);
  body.replaceChildren(...items.map(item => {
    const tr = document.createElement("tr");
    tr.dataset.key = item[key];
    for (const [cls, text] of [["name", item[key]], ["orders", item.orders],
                               ["revenue", item.revenue]]) {
      const td = document.createElement("td");
      td.className = cls;
      td.textContent = text;
      tr.appendChild(td);
    }
    return tr;
  }));
}
async function refresh() {
  try {
    const response = await fetch("/api/summary", {cache: "no-store"});
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    document.getElementById("total-orders").textContent = data.totals.orders;
    document.getElementById("total-revenue").textContent = data.totals.revenue;
    document.getElementById("latest-batch").textContent = data.latest_batch || "none yet";
    document.getElementById("refreshed-at").textContent = data.refreshed_at;
    rows("by-status", "status", data.by_status);
    rows("by-region", "region", data.by_region);
    document.getElementById("error").textContent = "";
    document.body.dataset.loaded = data.refreshed_at;
  } catch (err) {
    document.getElementById("error").textContent = "(" + err.message + ")";
  }
}
refresh();
setInterval(refresh, REFRESH * 1000);
</script>
</body></html>
"""


def _measures(row: dict[str, Any]) -> dict[str, str]:
    return {"orders": str(row["Orders.count"]), "revenue": str(row["Orders.total_revenue"])}


def latest_success(dagster: Any) -> str | None:
    """End time (UTC, ISO) of the newest successful ``demo_pipeline`` run, or ``None``."""
    for run in dagster.runs(JOB, limit=50):
        if run["status"] == "SUCCESS" and run.get("endTime"):
            return datetime.fromtimestamp(float(run["endTime"]), UTC).isoformat(timespec="seconds")
    return None


def summary(cube: Any, dagster: Any) -> dict[str, Any]:
    """What the page shows, from one Cube client and one Dagster client.

    Before the first successful run the marts do not exist (Cube would answer 400): the page
    shows zeros and "none yet" without asking Cube.
    """
    latest = latest_success(dagster)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if latest is None:
        empty = {"orders": "0", "revenue": "0"}
        return {"totals": empty, "by_status": [], "by_region": [], "latest_batch": None,
                "refreshed_at": now}  # fmt: skip
    (totals,) = cube.load(TOTALS, renew=True)["data"]
    by_status = cube.load(BY_STATUS, renew=True)["data"]
    by_region = cube.load(BY_REGION, renew=True)["data"]
    return {
        "totals": _measures(totals),
        "by_status": [{"status": r["Orders.status"], **_measures(r)} for r in by_status],
        "by_region": [{"region": r["Orders.region"], **_measures(r)} for r in by_region],
        "latest_batch": latest,
        "refreshed_at": now,
    }


def make_handler(cube: Any, dagster: Any, refresh: int) -> type[BaseHTTPRequestHandler]:
    """The request handler class, bound to the clients."""
    page = PAGE.replace("REFRESH", str(refresh)).encode()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/":
                self._send(200, page, "text/html; charset=utf-8")
            elif path == "/healthz":
                self._send(200, b"ok", "text/plain")
            elif path == "/api/summary":
                try:
                    body, status = summary(cube, dagster), 200
                except Exception as exc:  # shown on the page, the page keeps polling
                    body, status = {"error": f"{type(exc).__name__}: {exc}"}, 503
                self._send(status, json.dumps(body).encode(), "application/json")
            else:
                self._send(404, b"not found", "text/plain")

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the page polls every few seconds

    return Handler


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Serve the page until SIGTERM/SIGINT."""
    from pydantic import SecretStr

    from floe_checks.clients.cube import CubeClient
    from floe_checks.clients.dagster import DagsterClient

    parser = argparse.ArgumentParser(prog="python -m floe_checks.servers.demo_page")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--secret-env",
        default=SECRET_VAR,
        help=f"variable holding Cube's API secret ({SECRET_VAR})",
    )
    parser.add_argument("--cube-url", required=True)
    parser.add_argument("--dagster-url", required=True)
    parser.add_argument("--refresh", type=int, default=5, help="seconds between page updates")
    args = parser.parse_args(argv)
    secret = os.environ.get(args.secret_env)
    if not secret:
        print(f"demo page: {args.secret_env} is not set (Cube's API secret)", file=sys.stderr)
        return 2
    cube = CubeClient(args.cube_url, SecretStr(secret), timeout=30)
    dagster = DagsterClient(args.dagster_url, timeout=30)
    server = ThreadingHTTPServer(
        ("127.0.0.1", args.port), make_handler(cube, dagster, args.refresh)
    )
    import signal

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
