"""Build and run this repository's container images with podman, without a Docker engine.

Plain Python (subprocess only), used by ``tests/images`` and ``scripts/podman.sh``'s users. What
runs on these machines and why each setting is here: docs/images.md.

* podman's storage (``--root``/``--runroot``) and its two config files live under
  ``${XDG_CACHE_HOME:-~/.cache}/floe-checks/images/podman``, never in the machine's default
  store, so a fresh clone (CI) reuses the layers built there and nothing else;
* the base image is the debootstrap tarball that ``scripts/setup.d/50-podman.sh`` caches
  (same path rule as ``scripts/podman-env.sh``), imported as ``localhost/floe-base-python:KEY``;
* the wheelhouse is ``pip download`` of what the Dagster image installs, cached by a hash of
  the requirement inputs; the build then runs with ``--network none`` and
  ``pip install --no-index --find-links``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Keep in step with scripts/podman-env.sh (the setup step builds the tarball named here).
BASE_SUITE = "bookworm"
BASE_PACKAGES = "python3.11,python3.11-venv,python3-pip,python-is-python3,ca-certificates,libpq5"
BASE_REPOSITORY = "localhost/floe-base-python"
DAGSTER_REPOSITORY = "localhost/floe-dagster"
NODE_PACKAGES = "nodejs,ca-certificates"
NODE_BASE_REPOSITORY = "localhost/floe-base-node"
CUBE_BASE_REPOSITORY = "localhost/floe-cube-base-local"
CUBE_REPOSITORY = "localhost/floe-cube"
# What docker/Dockerfile.dagster installs besides the project's `demo` extra.
DAGSTER_EXTRA_REQUIREMENTS = ("dagster-k8s==0.29.27",)
# The project's build backend (pyproject.toml [build-system]): pip builds floe-checks inside
# the image from the wheelhouse too.
BUILD_REQUIREMENTS = ("setuptools>=77", "wheel")
# Where the build mounts the wheelhouse (podman build -v); Dockerfile.dagster reads it through
# the PIP_FIND_LINKS build argument.
WHEELHOUSE_MOUNT = "/wheelhouse"
# Podman's default nofile/nproc limits exceed this VM's hard limits (setrlimit: Operation not
# permitted); no systemd runs as PID 1, so cgroups are managed directly and events go to a file.
CONTAINERS_CONF = """\
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


class ImageError(RuntimeError):
    """A podman or pip step failed: the message names the command, its exit code and output."""


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/floe-checks/images``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "floe-checks" / "images"


def base_key() -> str:
    """The base image's cache key: suite plus a hash of its package list."""
    digest = hashlib.sha256(BASE_PACKAGES.encode()).hexdigest()[:12]
    return f"{BASE_SUITE}-{digest}"


def base_tarball(cache: Path) -> Path:
    """The debootstrap root filesystem tarball that scripts/setup.d/50-podman.sh caches."""
    return cache / f"base-python-{base_key()}.tar.gz"


def tree_hash(paths: Iterable[Path], root: Path) -> str:
    """sha256 over the relative names and contents of ``paths`` (files, or folders walked).

    ``__pycache__`` folders and ``.pyc`` files are left out: they change without the sources.
    """
    digest = hashlib.sha256()
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files.append(path)
    for file in sorted(set(files)):
        rel = file.relative_to(root).as_posix()
        if "__pycache__" in rel.split("/") or rel.endswith(".pyc"):
            continue
        digest.update(rel.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Podman:
    """podman with its storage and config under ``cache`` and runc as the runtime.

    Attributes:
        cache: the images cache folder (:func:`cache_root`).
        executable: podman's path.
        runtime: runc's full path (Debian's crun refuses this VM's hybrid cgroup layout).
    """

    cache: Path
    executable: str
    runtime: str

    @classmethod
    def find(cls, cache: Path | None = None) -> Podman:
        """podman and runc from PATH, with the config files written under ``cache``.

        Raises:
            ImageError: podman or runc is not installed (scripts/setup.d/50-podman.sh does it).
        """
        cache = cache_root() if cache is None else cache
        missing = [name for name in ("podman", "runc") if shutil.which(name) is None]
        if missing:
            raise ImageError(
                f"{' and '.join(missing)} not found on PATH; run scripts/setup.d/50-podman.sh "
                "(apt-get install podman runc debootstrap)"
            )
        store = cache / "podman"
        store.mkdir(parents=True, exist_ok=True)
        (store / "containers.conf").write_text(CONTAINERS_CONF)
        (store / "storage.conf").write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{store / "root"}"\n'
            f'runroot = "{store / "run"}"\n'
        )
        return cls(cache, str(shutil.which("podman")), str(shutil.which("runc")))

    @property
    def store(self) -> Path:
        """The folder holding podman's storage and config files."""
        return self.cache / "podman"

    def env(self) -> dict[str, str]:
        """The environment podman runs with: our two config files, nothing from the machine's."""
        env = dict(os.environ)
        env["CONTAINERS_CONF"] = str(self.store / "containers.conf")
        env["CONTAINERS_STORAGE_CONF"] = str(self.store / "storage.conf")
        return env

    def command(self, *args: str) -> list[str]:
        """The full podman command line for ``args``."""
        return [
            self.executable,
            "--root",
            str(self.store / "root"),
            "--runroot",
            str(self.store / "run"),
            "--runtime",
            self.runtime,
            *args,
        ]

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 600,
        stdin: bytes | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``podman ARGS``; with ``check``, a non-zero exit raises :class:`ImageError`."""
        proc = subprocess.run(
            self.command(*args),
            env=self.env(),
            input=stdin.decode() if stdin is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ImageError(
                _failure(["podman", *args], proc.returncode, proc.stdout + proc.stderr)
            )
        return proc

    def image_exists(self, ref: str) -> bool:
        """Whether ``ref`` is in our store."""
        return self.run("image", "exists", ref, check=False).returncode == 0

    def ensure_base(self) -> str:
        """Import the cached base tarball as ``localhost/floe-base-python:KEY`` (once).

        Raises:
            ImageError: the tarball is missing (run scripts/setup.d/50-podman.sh) or import failed.
        """
        ref = f"{BASE_REPOSITORY}:{base_key()}"
        if self.image_exists(ref):
            return ref
        tarball = base_tarball(self.cache)
        if not tarball.is_file():
            raise ImageError(
                f"base image tarball {tarball} not found; run scripts/setup.d/50-podman.sh "
                "(debootstrap --variant=minbase bookworm, ~4 min cold)"
            )
        self.run("import", str(tarball), ref)
        return ref


def prune_old(podman: Podman, repository: str, keep: str) -> list[str]:
    """Remove every tag of ``repository`` but ``keep``, then dangling layers.

    Each content change builds a new tag (~1.2 GB for Dagster): without this the cache
    folder's store would grow with every edit. Returns the references removed.
    """
    listing = podman.run("images", "--format", "{{.Repository}}:{{.Tag}}", repository)
    old = sorted({ref for ref in listing.stdout.split() if ref != keep})
    if old:
        podman.run("rmi", "--force", *old, check=False)
    podman.run("image", "prune", "--force", check=False)
    return old


def _failure(cmd: Sequence[str], code: int, output: str) -> str:
    tail = "\n".join(output.strip().splitlines()[-25:])
    return f"`{' '.join(cmd)}` exited {code}:\n{tail}"


def dagster_requirements(repo: Path) -> list[str]:
    """The requirement arguments ``pip download`` gets for the Dagster image's wheelhouse."""
    return [f"{repo}[demo]", *DAGSTER_EXTRA_REQUIREMENTS, *BUILD_REQUIREMENTS]


def ensure_wheelhouse(repo: Path, cache: Path, python: str = sys.executable) -> Path:
    """``pip download`` what docker/Dockerfile.dagster installs into a cached wheelhouse.

    Keyed by pyproject.toml and the extra requirements: the same inputs reuse the folder.
    Resolved like the Dockerfile's own ``pip install`` (no constraints.txt: its kubernetes pin
    conflicts with dagster-k8s), so the wheelhouse holds what a networked build would install.

    Raises:
        ImageError: pip download failed (its output names the package).
    """
    key = hashlib.sha256(
        (repo / "pyproject.toml").read_bytes()
        + "\0".join((*DAGSTER_EXTRA_REQUIREMENTS, *BUILD_REQUIREMENTS)).encode()
    ).hexdigest()[:16]
    house = cache / f"wheelhouse-{key}"
    stamp = house / ".complete"
    if stamp.is_file():
        return house
    tmp = cache / f"wheelhouse-{key}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cmd = [
        python,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--dest",
        str(tmp),
        *dagster_requirements(repo),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=1200)
    if proc.returncode != 0:
        raise ImageError(_failure(cmd, proc.returncode, proc.stdout + proc.stderr))
    # pip download also leaves an sdist of the project itself; the build installs it from the
    # context, not from here.
    for own in tmp.glob("floe_checks-*"):
        own.unlink()
    stamp_tmp = tmp / ".complete"
    stamp_tmp.write_text("\n".join(sorted(p.name for p in tmp.iterdir())) + "\n")
    shutil.rmtree(house, ignore_errors=True)
    tmp.rename(house)
    return house


def stage_context(repo: Path, dest: Path, planted: Mapping[str, str]) -> Path:
    """Copy the repository's files (tracked and untracked, not git-ignored) into ``dest``.

    ``planted`` adds files (relative path → text) the way a developer's checkout has them, e.g.
    a filled-in ``docker/.env``: a test then proves .dockerignore and the Dockerfile keep them
    out of the image. ``dest`` is emptied first.

    Raises:
        ImageError: ``git ls-files`` failed (``repo`` is not a git checkout).
    """
    proc = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ImageError(_failure(["git", "ls-files"], proc.returncode, proc.stderr))
    shutil.rmtree(dest, ignore_errors=True)
    for name in filter(None, proc.stdout.split("\0")):
        src = repo / name
        if not src.is_file():  # deleted in the work tree, not yet committed
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    for name, text in planted.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return dest


def dagster_image_key(repo: Path, wheelhouse: Path, base: str) -> str:
    """Tag of the Dagster image: a hash of what the build reads, the wheelhouse and the base.

    Only the files .dockerignore lets through (and the Dockerfile) count: an edit to a test
    does not rebuild the image.
    """
    sources = tree_hash(
        [
            repo / "docker" / "Dockerfile.dagster",
            repo / ".dockerignore",
            repo / "pyproject.toml",
            repo / "README.md",
            repo / "floe_checks",
            repo / "demo",
        ],
        repo,
    )
    listing = (wheelhouse / ".complete").read_text()
    return hashlib.sha256(f"{sources}\0{listing}\0{base}".encode()).hexdigest()[:16]


def build_dagster_image(podman: Podman, repo: Path, wheelhouse: Path) -> tuple[str, bool]:
    """Build docker/Dockerfile.dagster from our base and the wheelhouse, with no network.

    Returns:
        The image reference and whether it was built now (False: reused from the store).

    Raises:
        ImageError: the build failed; the message holds its last lines.
    """
    base = podman.ensure_base()
    ref = f"{DAGSTER_REPOSITORY}:{dagster_image_key(repo, wheelhouse, base)}"
    if podman.image_exists(ref):
        return ref, False
    podman.run(
        "build",
        "--pull=never",
        "--network",
        "none",
        "--layers",
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        "--build-arg",
        "PIP_NO_INDEX=1",
        "--build-arg",
        f"PIP_FIND_LINKS={WHEELHOUSE_MOUNT}",
        "--volume",
        f"{wheelhouse}:{WHEELHOUSE_MOUNT}:ro",
        "--file",
        str(repo / "docker" / "Dockerfile.dagster"),
        "--tag",
        ref,
        str(repo),
        timeout=3600,
    )
    prune_old(podman, DAGSTER_REPOSITORY, ref)
    return ref, True


def node_base_key() -> str:
    """The Node base image's cache key: suite plus a hash of its package list."""
    digest = hashlib.sha256(NODE_PACKAGES.encode()).hexdigest()[:12]
    return f"{BASE_SUITE}-{digest}"


def build_cube_image(podman: Podman, repo: Path, node_modules: Path) -> tuple[str, bool]:
    """Build docker/Dockerfile.cube, unchanged, on a local base running Cube 0.33.65.

    docker/Dockerfile.cube-base-local (on the debootstrap Node base, ``node_modules`` from the
    host's ``npm ci`` mounted in) is tagged in *our* store as the ``cubejs/cube`` reference the
    Dockerfile names, so ``--pull=never`` builds its layers on it. That tag never leaves the
    cache folder's store; the resulting image is tagged ``localhost/floe-cube:KEY``.

    Raises:
        ImageError: the Node base tarball is missing or a build failed.
    """
    node_ref = f"{NODE_BASE_REPOSITORY}:{node_base_key()}"
    if not podman.image_exists(node_ref):
        tarball = podman.cache / f"base-node-{node_base_key()}.tar.gz"
        if not tarball.is_file():
            raise ImageError(
                f"Node base image tarball {tarball} not found; run scripts/setup.d/50-podman.sh"
            )
        podman.run("import", str(tarball), node_ref)
    if not (node_modules / "@cubejs-backend" / "server").is_dir():
        raise ImageError(
            f"{node_modules} has no @cubejs-backend/server; run scripts/setup.d/40-cube.sh"
        )
    dockerfile = repo / "docker" / "Dockerfile.cube"
    from_line = next(
        line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("FROM ")
    )
    key = hashlib.sha256(
        "\0".join(
            [
                tree_hash(
                    [
                        dockerfile,
                        repo / "docker" / "Dockerfile.cube-base-local",
                        repo / "demo" / "cube" / "package-lock.json",
                        repo / "demo" / "cube" / "model",
                        repo / ".dockerignore",
                    ],
                    repo,
                ),
                node_ref,
            ]
        ).encode()
    ).hexdigest()[:16]
    ref = f"{CUBE_REPOSITORY}:{key}"
    if podman.image_exists(ref):
        return ref, False
    base_ref = f"{CUBE_BASE_REPOSITORY}:{key}"
    podman.run(
        "build",
        "--pull=never",
        "--network",
        "none",
        "--build-arg",
        f"NODE_IMAGE={node_ref}",
        "--volume",
        f"{node_modules}:/npm-modules:ro",
        "--file",
        str(repo / "docker" / "Dockerfile.cube-base-local"),
        "--tag",
        base_ref,
        str(repo),
        timeout=1800,
    )
    podman.run("tag", base_ref, from_line)
    podman.run(
        "build",
        "--pull=never",
        "--network",
        "none",
        "--file",
        str(dockerfile),
        "--tag",
        ref,
        str(repo),
        timeout=1800,
    )
    prune_old(podman, CUBE_REPOSITORY, ref)
    prune_old(podman, CUBE_BASE_REPOSITORY, base_ref)
    return ref, True
