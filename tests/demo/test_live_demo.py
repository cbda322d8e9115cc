"""``floe demo up / trigger / status / down`` run for real, as a presenter runs them (issue 23).

One ``floe demo up --detach`` per module (a whole local stack: PostgreSQL, Dagster, Cube and the
page), in a state folder of its own, with an interval whose cron fires only at midnight UTC and
no first batch, so every batch in this module is one the tests trigger. The tests run in file
order in one xdist worker (tests/conftest.py groups this file). Expected numbers are Cube's own
``/load`` answers, read with the secret from the state file; the page is read in headless
Chromium (Debian's ``chromium``) as a reader sees it, and its screenshot is kept in ``reports/``
(``reports/demo-page-*.png``) when that folder exists, else in the test's temp folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from floe_checks.clients.cube import CubeClient

pytestmark = [
    pytest.mark.requirement("007-FR-025", "007-FR-026", "007-FR-026a", "007-FR-030"),
    pytest.mark.evidence("service"),
]

REPO = Path(__file__).resolve().parents[2]
FLOE = [sys.executable, "-m", "floe_checks.cli", "demo"]
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # root on CI machines
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    # Any request off this machine fails: the page must need none (no CDN).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    # let the page's fetch of /api/summary finish before the DOM is dumped
    "--virtual-time-budget=20000",
)


def _floe(state: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLOE_DEMO_STATE_DIR": str(state)}
    return subprocess.run(
        [*FLOE, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A demo brought up in the background; always brought down, by PID, after the module."""
    state = tmp_path_factory.mktemp("live-demo")
    up = _floe(state, "up", "--detach", "--interval", "1d", "--no-first-batch", "--orders", "40")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield state
    finally:
        _floe(state, "down", timeout=180)


@pytest.fixture(scope="module")
def demo_state(state_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state_dir / "demo.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def cube(demo_state: dict[str, Any]) -> CubeClient:
    return CubeClient(demo_state["urls"]["cube"], SecretStr(demo_state["cube_secret"]))


def _cube_view(cube: CubeClient) -> dict[str, Any]:
    """What the page must show, straight from Cube's /load (numbers as Cube's strings)."""
    measures = ["Orders.count", "Orders.total_revenue"]
    (total,) = cube.load({"measures": measures}, renew=True)["data"]
    view: dict[str, Any] = {"total": (total["Orders.count"], total["Orders.total_revenue"])}
    for dim in ("status", "region"):
        rows = cube.load({"measures": measures, "dimensions": [f"Orders.{dim}"]}, renew=True)
        view[dim] = {
            r[f"Orders.{dim}"]: (r["Orders.count"], r["Orders.total_revenue"]) for r in rows["data"]
        }
    return view


class PageView(HTMLParser):
    """The numbers a reader sees on the page: element ids and table cells by class."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}
        self.tables: dict[str, dict[str, dict[str, str]]] = {"by-status": {}, "by-region": {}}
        self._id: str | None = None
        self._table: str | None = None
        self._row: str | None = None
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tbody" and a.get("id") in self.tables:
            self._table = a["id"]
        elif tag == "tr" and self._table is not None:
            self._row = a.get("data-key") or ""
            self.tables[self._table][self._row] = {}
        elif tag == "td" and self._row is not None:
            self._cell = a.get("class")
        elif a.get("id"):
            self._id = a["id"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._table = None
        elif tag == "tr":
            self._row = None
        elif tag == "td":
            self._cell = None
        else:
            self._id = None

    def handle_data(self, data: str) -> None:
        if self._table and self._row is not None and self._cell:
            self.tables[self._table][self._row][self._cell] = data
        elif self._id:
            self.ids[self._id] = self.ids.get(self._id, "") + data

    def view(self) -> dict[str, Any]:
        def pairs(table: str) -> dict[str, tuple[str, str]]:
            return {k: (v["orders"], v["revenue"]) for k, v in self.tables[table].items()}

        return {
            "total": (self.ids.get("total-orders"), self.ids.get("total-revenue")),
            "status": pairs("by-status"),
            "region": pairs("by-region"),
        }


def _page(url: str, tmp: Path, shot_name: str) -> tuple[PageView, Path]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup.d/45-chromium.sh)")

    def chrome(*args: str) -> subprocess.CompletedProcess[bytes]:
        profile = tmp / f"profile-{shot_name}-{len(args)}"
        return subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            timeout=120,
            check=True,
        )

    parsed = PageView()
    parsed.feed(chrome("--dump-dom").stdout.decode())
    reports = REPO / "reports"
    shot = (reports if reports.is_dir() else tmp) / f"demo-page-{shot_name}.png"
    chrome("--window-size=1000,700", f"--screenshot={shot}")
    return parsed, shot


def test_up_prints_the_urls_and_keeps_its_state_private(
    state_dir: Path, demo_state: dict[str, Any]
) -> None:
    mode = stat.S_IMODE((state_dir / "demo.json").stat().st_mode)
    assert mode == 0o600  # it holds Cube's API secret
    assert demo_state["phase"] == "running"
    assert demo_state["schedule"] == "0 0 * * *"
    assert demo_state["provider"]["demo_settings"]["FLOE_DEMO_SCHEDULE"] == "0 0 * * *"
    assert demo_state["provider"]["demo_settings"]["FLOE_DEMO_BATCH_ORDERS"] == "40"
    urls = demo_state["urls"]
    assert sorted(urls) == ["cube", "dagster", "page"]
    for url in urls.values():
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/?", url), url
    log = (state_dir / "up.log").read_text(encoding="utf-8")
    assert f"  live page  {urls['page']}\n" in log
    assert f"  Dagster UI {urls['dagster']}\n" in log
    assert f"  Cube API   {urls['cube']}/cubejs-api/v1\n" in log
    assert demo_state["cube_secret"] not in log


def test_a_second_up_says_where_the_first_runs(state_dir: Path, demo_state: dict[str, Any]) -> None:
    second = _floe(state_dir, "up", "--interval", "1d")
    assert second.returncode == 1
    assert second.stderr.startswith(
        f"floe demo: a demo already runs (pid {demo_state['pid']}, running, since "
        f"{demo_state['started']}; page {demo_state['urls']['page']}, "
    )
    assert second.stderr.rstrip().endswith(
        f"Stop it with: floe demo down (state folder {state_dir})"
    )


def _jaeger_built() -> bool:
    from floe_checks.errors import PrerequisiteMissing
    from floe_checks.servers.jaeger import find_binary

    try:
        find_binary()
    except PrerequisiteMissing:
        return False
    return True


def test_status_before_the_first_batch(state_dir: Path, demo_state: dict[str, Any]) -> None:
    status = _floe(state_dir, "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == f"floe demo: running since {demo_state['started']} (pid {demo_state['pid']})"
    # Jaeger runs where it is built (scripts/build-jaeger.sh; setup builds it)
    started = ["postgres", "telemetry-receiver", *(["jaeger"] if _jaeger_built() else [])]
    started += ["dagster-daemon", "dagster-webserver", "cube"]
    alive = f"{len(started)}/{len(started)} alive"
    assert f"  processes {alive}: {', '.join(started)}" in lines
    assert "  last batches:" in lines
    assert lines[lines.index("  last batches:") + 1] == "    none yet"
    assert lines[-1] == "  Cube: no batch has reached the marts yet"


def test_trigger_moves_cube_totals_and_the_page_shows_cubes_answers(
    state_dir: Path, demo_state: dict[str, Any], cube: CubeClient, tmp_path: Path
) -> None:
    first = _floe(state_dir, "trigger", "--orders", "40")
    assert first.returncode == 0, first.stderr
    after_first = _cube_view(cube)
    orders, revenue = after_first["total"]
    match = re.search(r"SUCCESS; Cube orders 0 → (\S+), revenue 0 → (\S+)$", first.stdout)
    assert match is not None, first.stdout
    assert match.groups() == (orders, revenue)
    page, shot = _page(demo_state["urls"]["page"], tmp_path, "first")
    assert page.view() == after_first
    assert page.ids["latest-batch"] != "none yet"
    assert shot.stat().st_size > 10_000

    second = _floe(state_dir, "trigger", "--orders", "25")
    assert second.returncode == 0, second.stderr
    after_second = _cube_view(cube)
    moved = f"Cube orders {orders} → {after_second['total'][0]}, revenue {revenue} → "
    assert moved + f"{after_second['total'][1]}\n" in second.stdout
    assert int(after_second["total"][0]) > int(orders)
    page, _ = _page(demo_state["urls"]["page"], tmp_path, "second")
    assert page.view() == after_second
    assert page.view() != after_first


def test_status_lists_the_batches_and_cubes_totals(state_dir: Path, cube: CubeClient) -> None:
    status = _floe(state_dir, "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    batches = lines[lines.index("  last batches:") + 1 : -1]
    assert [line.split()[1] for line in batches] == ["SUCCESS", "SUCCESS"]
    orders, revenue = _cube_view(cube)["total"]
    assert lines[-1] == f"  Cube: {orders} orders, revenue {revenue}"


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited process whose parent has not reaped it yet: the
    detached ``up`` is reparented to this machine's PID 1, which reaps when it gets to it)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rsplit(")", 1)[-1].split()[0] != "Z"


def _listening(url: str) -> bool:
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_down_stops_every_process_and_frees_every_port(
    state_dir: Path, demo_state: dict[str, Any]
) -> None:
    down = _floe(state_dir, "down", timeout=180)
    assert down.returncode == 0, down.stderr
    assert down.stdout == f"floe demo: stopped (pid {demo_state['pid']})\n"
    pids = [demo_state["pid"], demo_state["page"]["pid"]]
    pids += [p["pid"] for p in demo_state["provider"]["processes"]]
    assert [pid for pid in pids if _running(pid)] == []
    assert [u for u in demo_state["urls"].values() if _listening(u)] == []
    assert not (state_dir / "demo.json").exists()
    again = _floe(state_dir, "down")
    assert (again.returncode, again.stdout) == (
        0,
        f"floe demo: no demo is running (state folder {state_dir})\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["up", "--interval", "7m"],
            "floe demo up: --interval '7m' is not a schedule cron can keep. Fix: use minutes "
            "that divide an hour (1m, 2m, 5m, 10m, 15m, 30m, 60m), hours that divide a day "
            "(1h, 2h, 3h, 4h, 6h, 12h) or 1d\n",
        ),
        (
            ["up", "--orders", "0"],
            "floe demo up: --orders must be at least 1. Fix: give a positive number of orders per "
            "batch, e.g. --orders 300\n",
        ),
    ],
)
def test_bad_options_are_one_line_exit_2_and_start_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = _floe(tmp_path, *args)
    assert (done.returncode, done.stderr, done.stdout) == (2, message, "")
    assert list(tmp_path.iterdir()) == []


def test_status_and_trigger_without_a_demo(tmp_path: Path) -> None:
    status = _floe(tmp_path, "status")
    assert (status.returncode, status.stdout) == (
        3,
        f"floe demo: no demo is running (state folder {tmp_path}); start one with: floe demo up\n",
    )
    trigger = _floe(tmp_path, "trigger")
    assert (trigger.returncode, trigger.stderr) == (
        1,
        f"floe demo: no demo is running (state folder {tmp_path}); start one with: floe demo up\n",
    )


def test_the_page_server_needs_cubes_secret_in_the_named_variable() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CUBEJS_API_SECRET"}
    args = ["--port", "1", "--cube-url", "http://127.0.0.1:1", "--dagster-url", "http://x"]
    done = subprocess.run(
        [sys.executable, "-m", "floe_checks.servers.demo_page", *args, "--secret-env",
         "CUBEJS_API_SECRET"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (
        2,
        "demo page: CUBEJS_API_SECRET is not set (Cube's API secret)\n",
    )
