"""The diagnostics bundle (issue 17 point 5): one ``floe-diagnostics-<UTC timestamp>.tar.gz``
with what a support engineer asks for first when a check failed.

For each failing check, collected at once with short timeouts (:data:`COLLECTOR_TIMEOUT`
each, every collector in its own thread), a collector that fails recording its error text
instead of failing the run:

* ``dns``: the ``getaddrinfo`` answers for the endpoint's host;
* ``tcp``: the TCP connect time, or the error (``ECONNREFUSED`` …);
* ``tls``: the peer certificate's summary (subject, issuer, names, validity) for https
  endpoints — never the certificate itself;
* ``http``: status and headers of a plain GET of the endpoint's base URL, without
  credentials, headers that may carry one (``Set-Cookie``, ``Authorization``, any name with
  ``token``, ``key``, ``secret``, ``cookie``, ``session``, ``password``, ``credential``) dropped
  and named in ``dropped_headers``;
* ``client_versions``: ``importlib.metadata`` versions of the section's client distributions;
* the result's message, remediation and details.

For an e2e failure the stack's diagnostics (log tails; on a cluster events, describe and pod
logs) go under ``stack/``. Every text in the archive — member names included — passes through
a :class:`~floe_checks.preflight.scrub.Scrubber` of every configured section's secrets in
every encoding. The archive is written under a temporary name and renamed, so a reader never
sees half of it. Plain Python: the pytest plugin and ``floe preflight`` both call it.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import platform
import re
import socket
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from floe_checks.config import Section, TrinoCompute
from floe_checks.preflight.runner import endpoint_of
from floe_checks.preflight.scrub import Scrubber
from floe_checks.probes import backend_of
from floe_checks.results import CheckResult, Status

FORMAT = "floe-diagnostics/1"
COLLECTOR_TIMEOUT = 2.0
# How long past its timeout a collector may run before it is recorded as not finished.
COLLECTOR_GRACE = 0.5
PREFIX = "floe-diagnostics-"
# Response header names holding any of these words are dropped (case-insensitive).
SECRET_HEADER_WORDS = (
    "authorization",
    "cookie",
    "token",
    "key",
    "secret",
    "session",
    "password",
    "credential",
)
# The stack's diagnostics of at most this many failing tests (each a few log tails).
MAX_STACK_TESTS = 20

# backend -> the distributions of its client (what a support ticket asks for); a tuple lists
# alternatives that provide the same module (psycopg2 from psycopg2-binary or psycopg2)
CLIENT_DISTRIBUTIONS: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "trino": ("trino", "requests", "urllib3"),
    "snowflake": ("snowflake-connector-python",),
    "bigquery": ("google-cloud-bigquery", "google-auth"),
    "duckdb": ("duckdb",),
    "s3": ("boto3", "botocore", "urllib3"),
    "gcs": ("google-cloud-storage", "google-auth"),
    "adls": ("azure-storage-blob", "azure-identity"),
    "postgres": (("psycopg2-binary", "psycopg2"),),
    "polaris": ("requests", "urllib3"),
    "iceberg-rest": ("requests", "urllib3"),
    "cube": ("requests", "urllib3"),
    "dagster": ("requests", "urllib3"),
}

# Where a section talks to when floe.yaml names no endpoint (the public cloud service).
_DEFAULT_URLS: dict[str, Callable[[Any], str]] = {
    "s3": lambda s: f"https://s3.{s.region}.amazonaws.com",
    "gcs": lambda s: "https://storage.googleapis.com",
    "adls": lambda s: f"https://{s.account}.blob.core.windows.net",
    "bigquery": lambda s: "https://bigquery.googleapis.com",
    "snowflake": lambda s: f"https://{s.account}.snowflakecomputing.com",
}
_URL_FIELDS = ("uri", "url", "endpoint_url", "endpoint", "api_endpoint")


class BundleError(Exception):
    """The bundle directory cannot be used; the message names the option and what to do."""


@dataclass(frozen=True)
class Target:
    """Where a section's service listens.

    Attributes:
        host: host name or address.
        port: TCP port.
        scheme: ``http`` or ``https`` when the service speaks HTTP, else empty.
    """

    host: str
    port: int
    scheme: str = ""

    @property
    def base_url(self) -> str:
        """``scheme://host:port/`` without user info, path or query; empty when not HTTP."""
        if not self.scheme:
            return ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}/"


def target_of(service: str, section: Section) -> Target | None:
    """The network endpoint of a section (None for a local file, e.g. DuckDB)."""
    backend = backend_of(service, section)
    if isinstance(section, TrinoCompute):
        return Target(section.host, section.port, section.http_scheme)
    for name in _URL_FIELDS:
        value = getattr(section, name, None)
        if value:
            return _url_target(str(value))
    host = getattr(section, "host", None)
    if host and backend == "snowflake":
        protocol = str(getattr(section, "protocol", "https"))
        port = getattr(section, "port", None) or (443 if protocol == "https" else 80)
        return Target(str(host), int(port), protocol)
    if host:
        return Target(str(host), int(getattr(section, "port", None) or 0))
    default = _DEFAULT_URLS.get(backend)
    return _url_target(default(section)) if default else None


def _url_target(url: str) -> Target | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Target(parts.hostname, port, parts.scheme)


def prepare_directory(directory: str | Path, option: str) -> Path:
    """Create ``directory`` if missing and prove that a file can be written into it.

    Raises:
        BundleError: it cannot be created or written; the message names ``option``.
    """
    path = Path(directory).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".floe-bundle-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BundleError(
            f"{option}: cannot write the diagnostics bundle into {path}: {reason}. Fix: name a "
            "directory you may write to (it is created when missing)."
        ) from None
    return path


def _run_collector(collect: Callable[[], dict[str, object]]) -> dict[str, object]:
    """``collect()`` in its own thread; its exception or overrun becomes an ``error`` entry."""
    box: dict[str, dict[str, object]] = {}

    def run() -> None:
        try:
            box["value"] = collect()
        except Exception as exc:  # a collector never fails the run: its error is the finding
            box["value"] = {"error": f"{type(exc).__name__}: {exc}"}

    worker = threading.Thread(target=run, daemon=True, name="floe-bundle-collector")
    worker.start()
    worker.join(COLLECTOR_TIMEOUT + COLLECTOR_GRACE)
    if worker.is_alive():
        return {"error": f"did not finish within {COLLECTOR_TIMEOUT:g} s"}
    return box["value"]


def _family(family: int) -> str:
    if family == socket.AF_INET:
        return "IPv4"
    return "IPv6" if family == socket.AF_INET6 else str(family)


def collect_dns(target: Target) -> dict[str, object]:
    """The ``getaddrinfo`` answers for the target's host (TCP), in resolver order."""
    started = time.perf_counter()
    infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    answers: list[dict[str, str]] = []
    for family, _, _, _, sockaddr in infos:
        entry = {"family": _family(family), "address": str(sockaddr[0])}
        if entry not in answers:
            answers.append(entry)
    return {
        "host": target.host,
        "answers": answers,
        "ms": round((time.perf_counter() - started) * 1000),
    }


def collect_tcp(target: Target) -> dict[str, object]:
    """One TCP connect to the target: its time, or the error and its errno name."""
    import errno

    started = time.perf_counter()
    try:
        with socket.create_connection((target.host, target.port), timeout=COLLECTOR_TIMEOUT):
            pass
    except OSError as exc:
        entry: dict[str, object] = {
            "address": f"{target.host}:{target.port}",
            "connected": False,
            "error": f"{type(exc).__name__}: {exc}",
        }
        if exc.errno is not None:
            entry["errno"] = errno.errorcode.get(exc.errno, str(exc.errno))
        return entry
    return {
        "address": f"{target.host}:{target.port}",
        "connected": True,
        "connect_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def collect_tls(section: Section, target: Target) -> dict[str, object]:
    """The peer certificate's summary (subject, issuer, names, validity), or why none."""
    from floe_checks.probes.tls import HttpsEndpoint, inspect

    endpoint = HttpsEndpoint(target.base_url.rstrip("/"), target.host, target.port, "")
    verify = section.tls_verify()
    cafile = verify if isinstance(verify, str) else None
    inspection = inspect(endpoint, cafile=cafile, timeout=COLLECTOR_TIMEOUT)
    facts = inspection.facts(datetime.datetime.now(datetime.UTC))
    facts.pop("field", None)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in facts.items()}


def _secret_header(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_HEADER_WORDS)


def collect_http(section: Section, target: Target) -> dict[str, object]:
    """Status and headers of a plain GET of the base URL: no credentials are sent (no netrc
    either), redirects are not followed, headers that may carry a secret are dropped."""
    import requests

    verify = section.tls_verify()
    url = target.base_url
    with requests.Session() as session:
        session.trust_env = False  # no ~/.netrc credentials; proxies are taken explicitly
        response = session.get(
            url,
            timeout=(COLLECTOR_TIMEOUT, COLLECTOR_TIMEOUT),
            allow_redirects=False,
            verify=verify,
            proxies=requests.utils.get_environ_proxies(url),
            stream=True,  # the body is not read
        )
        response.close()
    headers = {k: v for k, v in response.headers.items() if not _secret_header(k)}
    dropped = sorted(k for k in response.headers if _secret_header(k))
    return {
        "url": url,
        "status": response.status_code,
        "reason": response.reason,
        "headers": headers,
        "dropped_headers": dropped,
    }


def client_versions(backend: str) -> dict[str, str]:
    """The installed version of each client distribution of ``backend``, ``not installed``
    for a missing one; of alternatives, the installed one (all, when none is)."""
    versions: dict[str, str] = {}
    for group in CLIENT_DISTRIBUTIONS.get(backend, ()):
        names = (group,) if isinstance(group, str) else group
        found = {}
        for name in names:
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
        versions |= found or dict.fromkeys(names, "not installed")
    return versions


def collect_check(service: str, section: Section | None, result: CheckResult) -> dict[str, object]:
    """Everything the bundle holds about one failing check (the collectors run at once)."""
    entry: dict[str, object] = {
        "service": str(result.service),
        "backend": result.backend,
        "status": str(result.status),
        "message": result.message,
        "remediation": result.remediation,
        "details": result.details,
        "duration_ms": result.duration_ms,
    }
    if section is None:
        entry["collectors"] = "none: no floe.yaml section belongs to this check"
        return entry
    entry["endpoint"] = endpoint_of(section)
    entry["client_versions"] = client_versions(backend_of(service, section))
    target = target_of(service, section)
    if target is None:
        entry["target"] = None
        return entry
    entry["target"] = {"host": target.host, "port": target.port, "scheme": target.scheme}
    collectors: dict[str, Callable[[], dict[str, object]]] = {
        "dns": lambda: collect_dns(target),
        "tcp": lambda: collect_tcp(target),
    }
    if target.scheme == "https":
        collectors["tls"] = lambda: collect_tls(section, target)
    if target.scheme:
        collectors["http"] = lambda: collect_http(section, target)
    threads: dict[str, dict[str, object]] = {}

    def run(name: str, collect: Callable[[], dict[str, object]]) -> None:
        threads[name] = _run_collector(collect)

    workers = [
        threading.Thread(target=run, args=(n, c), daemon=True, name=f"floe-bundle-{n}")
        for n, c in collectors.items()
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for name in ("dns", "tcp", "tls", "http"):
        if name in threads:
            entry[name] = threads[name]
        elif name == "tls":
            entry[name] = {"skipped": "not an https endpoint"}
        else:
            entry[name] = {"skipped": "the service does not speak HTTP"}
    return entry


@dataclass
class StackDiagnostics:
    """The stack's diagnostics attached to one failing test's report."""

    test: str
    sections: list[tuple[str, str]] = field(default_factory=list)


def _slug(text: str, limit: int = 80) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug[:limit] or "x"


def timestamp(now: datetime.datetime | None = None) -> str:
    """The UTC timestamp of a bundle's name, e.g. ``20261202T113000Z``."""
    return (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")


def write_bundle(
    directory: Path,
    *,
    environment: str,
    failed: Sequence[tuple[CheckResult, Section | None]],
    scrubber: Scrubber,
    stack: Sequence[StackDiagnostics] = (),
    failed_tests: Sequence[str] = (),
    now: datetime.datetime | None = None,
) -> Path:
    """Collect the diagnostics of the failing checks and write the archive into ``directory``.

    Args:
        directory: a writable directory (:func:`prepare_directory`); created when missing.
        environment: the environment's name.
        failed: each failing check's result and its floe.yaml section (None for a user check).
        scrubber: removes every configured secret in every encoding from every text.
        stack: the stack's diagnostics of failing e2e tests.
        failed_tests: node IDs of the failing tests.
        now: the bundle's time (default now).

    Returns:
        The path of the archive.
    """
    moment = now or datetime.datetime.now(datetime.UTC)
    stamp = timestamp(moment)
    top = f"{PREFIX}{stamp}"
    members: list[tuple[str, bytes]] = []
    names: set[str] = set()

    def add(name: str, text: str) -> None:
        name = scrubber.text(name)
        base, dot, ext = name.rpartition(".")
        candidate, n = name, 2
        while candidate in names:
            candidate, n = f"{base}-{n}{dot}{ext}", n + 1
        names.add(candidate)
        members.append((candidate, scrubber.text(text).encode()))

    entries: dict[int, dict[str, object]] = {}
    workers = []
    for index, (result, section) in enumerate(failed):

        def run(i: int = index, r: CheckResult = result, s: Section | None = section) -> None:
            entries[i] = collect_check(str(r.service), s, r)

        workers.append(threading.Thread(target=run, daemon=True, name="floe-bundle-check"))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for index, (result, _) in enumerate(failed):
        entry = scrubber.value(entries[index])
        add(
            f"checks/{_slug(scrubber.text(str(result.service)))}.json",
            json.dumps(entry, indent=2) + "\n",
        )
    for diag in stack[:MAX_STACK_TESTS]:
        # scrubbed before the slug: a slug changes a secret's characters, hiding it from later
        folder = f"stack/{_slug(scrubber.text(diag.test))}"
        for title, text in diag.sections:
            add(f"{folder}/{_slug(scrubber.text(title))}.log", text)
    manifest = {
        "format": FORMAT,
        "floe_checks_version": _own_version(),
        "created": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "environment": environment,
        "python": platform.python_version(),
        "failed_checks": [f"{r.service}/{r.backend}" for r, _ in failed],
        "failed_tests": list(failed_tests),
        "files": [
            {"path": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in members
        ],
    }
    manifest_text = scrubber.text(json.dumps(scrubber.value(manifest), indent=2) + "\n")
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{top}.tar.gz"
    partial = directory / f".{top}.tar.gz.partial"
    with tarfile.open(partial, "w:gz") as archive:
        for name, data in [("manifest.json", manifest_text.encode()), *members]:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mtime, info.mode = len(data), int(moment.timestamp()), 0o600
            archive.addfile(info, io.BytesIO(data))
    partial.chmod(0o600)
    partial.replace(final)  # atomic: the bundle appears whole or not at all
    return final


def _own_version() -> str:
    try:
        return metadata.version("floe-checks")
    except metadata.PackageNotFoundError:
        from floe_checks import __version__

        return __version__


def failing(results: Sequence[CheckResult]) -> list[CheckResult]:
    """The results that failed (status ``error``)."""
    return [r for r in results if r.status == Status.ERROR.value]
