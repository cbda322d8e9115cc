"""The canary-secret test (issue 15, points 1 and 2): a user's own check in a pytester
repository prints, logs, records and raises the secrets of the selected environment in every
encoding a client may produce; none of them may appear in the terminal or in the JUnit XML,
with and without xdist."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

import pytest

pytestmark = [
    pytest.mark.requirement("FC-009", "SC-004", "007-FR-020"),
    pytest.mark.evidence("static"),
]

# Canaries with the characters that encodings change: / + = & for URLs, " and \ for JSON.
PG_PASSWORD = 'Pg-Canary/9"x\\y'  # pragma: allowlist secret
CATALOG_SECRET = "Cat/Pr0d+Wr0ng=7z&x"  # pragma: allowlist secret
TRINO_PASSWORD = "Tr1no/Canary+pw=&q"  # pragma: allowlist secret

FLOE_YAML = """\
environments:
  prod:
    compute:
      type: trino
      host: trino.example.internal
      port: 8443
      http_scheme: https
      user: analyst
      password: ${TRINO_PASSWORD}
    postgres:
      host: db.example.internal
      user: dagster
      password: ${PG_PASSWORD}
    catalog:
      type: polaris
      uri: https://polaris.example.internal/api/catalog
      client_id: floe-client
      client_secret: ${CATALOG_SECRET}
"""

USER_CHECK = """\
import base64
import json
import logging
import sys
import urllib.parse


def test_user_check(floe_env, record_property):
    pw = floe_env.postgres.password.get_secret_value()
    cs = floe_env.catalog.client_secret.get_secret_value()
    tp = floe_env.compute.password.get_secret_value()
    # what the trino client sends for password authentication
    trino_basic = base64.b64encode(f"analyst:{tp}".encode()).decode()
    print(f"trino: Authorization: Basic {trino_basic}")
    print(f"dsn=postgresql://dagster:{pw}@db.example.internal/dagster")
    print("body: client_secret=" + urllib.parse.quote(cs, safe=""))
    print("form: " + urllib.parse.urlencode({"client_secret": cs}))
    print("json: " + json.dumps({"password": pw}), file=sys.stderr)
    basic = base64.b64encode(f"floe-client:{cs}".encode()).decode()
    print(f"Authorization: Basic {basic}", file=sys.stderr)
    logging.getLogger("user.check").warning("connecting with password=%s", pw)
    record_property("dsn", f"password={pw}")
    raise ConnectionError(
        f"could not connect with password={pw} "
        f"client_secret={urllib.parse.quote(cs, safe='')}"
    )
"""


def _forms() -> list[str]:
    """Every form the user's check writes, computed here independently of floe_checks."""
    return [
        PG_PASSWORD,
        CATALOG_SECRET,
        TRINO_PASSWORD,
        base64.b64encode(f"analyst:{TRINO_PASSWORD}".encode()).decode(),
        quote(CATALOG_SECRET, safe=""),
        quote_plus(CATALOG_SECRET),
        json.dumps(PG_PASSWORD)[1:-1],
        base64.b64encode(f"floe-client:{CATALOG_SECRET}".encode()).decode(),
        "Cat%2FPr0d%2BWr0ng%3D7z%26x",  # the issue's own example, literally
        escape(PG_PASSWORD, {'"': "&quot;"}),  # as the JUnit XML writer would escape it
    ]


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_canary_never_leaves_a_users_failing_check(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: list[str]
) -> None:
    monkeypatch.setenv("PG_PASSWORD", PG_PASSWORD)
    monkeypatch.setenv("CATALOG_SECRET", CATALOG_SECRET)
    monkeypatch.setenv("TRINO_PASSWORD", TRINO_PASSWORD)
    for name in ("FLOE_ENV", "FLOE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\njunit_logging = all\n")
    pytester.makefile(".yaml", floe=FLOE_YAML)
    pytester.makepyfile(test_custom=USER_CHECK)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--floe-env=prod",
        "test_custom.py",
        "-rA",
        "--tb=long",
        "-l",  # locals in the traceback: pw and cs themselves
        "--log-level=DEBUG",
        "--junitxml=r.xml",
        *xdist,
    )
    result.assert_outcomes(failed=1)
    terminal = result.stdout.str() + result.stderr.str()
    junit = (pytester.path / "r.xml").read_text(encoding="utf-8")
    # The check did print and raise: the masked lines are there.
    assert "dsn=postgresql://dagster:***@db.example.internal/dagster" in terminal
    assert "body: client_secret=***" in terminal
    assert "Authorization: Basic ***" in terminal
    assert "trino: Authorization: Basic ***" in terminal
    assert "connecting with password=***" in terminal
    assert "ConnectionError: could not connect with password=*** client_secret=***" in terminal
    assert 'value="password=***"' in junit
    assert "body: client_secret=***" in junit
    for form in _forms():
        assert form not in terminal, form
        assert form not in junit, form


def test_canary_never_leaves_with_capture_off(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-s``: the check's prints go straight to the terminal, past every report."""
    monkeypatch.setenv("PG_PASSWORD", PG_PASSWORD)
    monkeypatch.setenv("CATALOG_SECRET", CATALOG_SECRET)
    monkeypatch.setenv("TRINO_PASSWORD", TRINO_PASSWORD)
    for name in ("FLOE_ENV", "FLOE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\n")
    pytester.makefile(".yaml", floe=FLOE_YAML)
    pytester.makepyfile(test_custom=USER_CHECK)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--floe-env=prod", "test_custom.py", "-s"
    )
    result.assert_outcomes(failed=1)
    terminal = result.stdout.str() + result.stderr.str()
    assert "dsn=postgresql://dagster:***@db.example.internal/dagster" in terminal
    assert "Authorization: Basic ***" in terminal
    for form in _forms():
        assert form not in terminal, form
