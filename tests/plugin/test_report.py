"""``floe report`` merges JUnit files of different runs into one requirement matrix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from floe_checks.requirements import registry

pytestmark = [pytest.mark.requirement("SC-007"), pytest.mark.evidence("static")]

TESTS = """\
import os, pytest

@pytest.mark.requirement("007-FR-016")
def test_compute():
    assert os.environ["BACKEND"] != "trino"

@pytest.mark.requirement("007-FR-019")
def test_postgres():
    if os.environ["BACKEND"] == "duckdb":
        pytest.skip("no postgres for duckdb")
"""


def _junit(pytester: pytest.Pytester, backend: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BACKEND", backend)
    target = pytester.path / "reports" / f"junit-{backend}.xml"
    pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--junitxml={target}", "test_m.py")
    return target


def _floe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floe_checks.cli", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_merge_two_backends(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_m=TESTS)
    duck = _junit(pytester, "duckdb", monkeypatch)
    trino = _junit(pytester, "trino", monkeypatch)
    out_json = pytester.path / "matrix.json"
    out_md = pytester.path / "matrix.md"
    done = _floe(
        "report", str(duck), str(trino), "--json", str(out_json), "--markdown", str(out_md)
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert data["runs"] == ["duckdb", "trino"]
    rows = {row["id"]: row for row in data["requirements"]}
    assert len(rows) == len(registry())
    assert rows["007-FR-016"]["runs"] == {"duckdb": "passed", "trino": "failed"}
    assert rows["007-FR-016"]["proven_by"] == ["duckdb"]
    assert rows["007-FR-019"]["runs"] == {"duckdb": "skipped", "trino": "passed"}
    assert rows["007-FR-001"]["runs"] == {"duckdb": "untested", "trino": "untested"}
    md = out_md.read_text(encoding="utf-8")
    assert "| requirement | title | evidence | needs | skipped only | duckdb | trino |" in md
    assert (
        "| 007-FR-016 | Compute connectivity (Trino, Snowflake, BigQuery, DuckDB) "
        "| unstated (below service) | service | — | passed | failed |" in md
    )


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    missing = _floe("report", str(tmp_path / "junit-x.xml"))
    assert missing.returncode == 2
    assert missing.stderr == f"floe report: {tmp_path / 'junit-x.xml'}: file not found.\n"
    bad = tmp_path / "junit-bad.xml"
    bad.write_text("<html></html>", encoding="utf-8")
    wrong = _floe("report", str(bad))
    assert wrong.returncode == 2
    assert "not a JUnit file (root element <html>)" in wrong.stderr
    twice = _floe("report", str(bad), str(bad))
    assert twice.returncode == 2
    assert "run label(s) used twice: bad" in twice.stderr


USER_TESTS = """\
import os, pytest

@pytest.mark.requirement("REQ-1")
def test_orders():
    pass

@pytest.mark.requirement("REQ-2")
def test_refunds():
    assert os.environ["BACKEND"] != "trino"
"""

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # root on CI machines
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    # Any request off this machine fails: a page that needs one would render without it.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def _png_pixels(data: bytes) -> set[tuple[int, int, int]]:
    """The distinct RGB colours of an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium's
    screenshots are), decoded with zlib only."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            assert color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * channels
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return {(row[i], row[i + 1], row[i + 2]) for row in rows for i in range(0, stride, channels)}


def test_html_report_is_one_self_contained_page(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shutil
    from html.parser import HTMLParser

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_m=USER_TESTS)
    duck = _junit(pytester, "duckdb", monkeypatch)
    trino = _junit(pytester, "trino", monkeypatch)
    reqs = pytester.path / "reqs.yaml"
    reqs.write_text("REQ-1: Orders load nightly\nREQ-2: Refunds balance\n", encoding="utf-8")
    page = tmp_path / "matrix.html"
    done = _floe("report", str(duck), str(trino), "--html", str(page), "--requirements", str(reqs))
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    for external in ("<script", "src=", "href=", "url(", "@import", "http://", "https://"):
        assert external not in html

    def chrome(*args: str) -> subprocess.CompletedProcess[bytes]:
        profile = tmp_path / f"profile-{len(args)}"
        return subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
            capture_output=True,
            timeout=120,
            check=True,
        )

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.summary = ""
            self._in: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "tr":
                self.rows.append([])
            if tag in ("td", "th") or ("id", "summary") in attrs:
                self._in = tag

        def handle_endtag(self, tag: str) -> None:
            self._in = None

        def handle_data(self, data: str) -> None:
            if self._in in ("td", "th"):
                self.rows[-1].append(data)
            elif self._in == "p":
                self.summary += data

    cells = Cells()
    cells.feed(chrome("--dump-dom").stdout.decode())
    # The user's requirements only: none of our 50 SPEC IDs, which no run claims.
    assert cells.rows == [
        ["requirement", "title", "evidence", "needs", "skipped only", "duckdb", "trino"],
        ["REQ-1", "Orders load nightly", "unstated", "—", "—", "passed", "passed"],
        ["REQ-2", "Refunds balance", "unstated", "—", "—", "passed", "failed"],
    ]
    assert cells.summary == "2 of 2 requirements proven by at least one run (2 runs)."
    shot = tmp_path / "shot.png"
    chrome("--window-size=900,400", f"--screenshot={shot}")
    colours = _png_pixels(shot.read_bytes())
    # The inline style applied: passed cells green, the failed cell red, as a reader sees them.
    assert (0xD9, 0xF2, 0xD9) in colours
    assert (0xF7, 0xD4, 0xD4) in colours
