"""An air-gapped chart mirror: a directory of chart archives and an ``index.yaml``, served on
loopback so that ``helm dependency build`` resolves a remote repository without the internet.

Helm resolves a dependency's ``repository:`` URL through ``$HELM_CONFIG_HOME/repositories.yaml``
and reads that repository's cached index from ``$HELM_CACHE_HOME/repository/<name>-index.yaml``.
We pre-seed both — the entry keeps the upstream URL the Chart.yaml names, the cached index has
its chart ``urls`` rewritten to the loopback server — and run ``helm dependency build
--skip-refresh`` so helm never tries to refresh the index from the internet.

The server is a thread in this process (http.server on 127.0.0.1, a free port); it stops when
the context manager exits.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from floe_checks.charts.helm import Helm
from floe_checks.errors import MirrorIndexMissing


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean: helm's downloads are not worth a log line each."""


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` read-only over HTTP on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="floe-chart-mirror", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def rewrite_index(index: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A copy of a chart repository index whose archive URLs all point at ``base_url``."""
    entries: dict[str, list[dict[str, Any]]] = {}
    for name, versions in (index.get("entries") or {}).items():
        entries[name] = []
        for version in versions:
            urls = [f"{base_url}/{str(u).rsplit('/', 1)[-1]}" for u in version.get("urls", [])]
            entries[name].append({**version, "urls": urls})
    return {**index, "entries": entries}


def seed_repository(helm: Helm, *, name: str, url: str, index: dict[str, Any]) -> None:
    """Write the repositories.yaml entry and the cached index helm reads for ``url``."""
    helm.config_home.mkdir(parents=True, exist_ok=True)
    repos_file = helm.config_home / "repositories.yaml"
    repos: dict[str, Any] = {
        "apiVersion": "",
        "generated": "0001-01-01T00:00:00Z",
        "repositories": [],
    }
    if repos_file.exists():
        repos = yaml.safe_load(repos_file.read_text()) or repos
    repos["repositories"] = [r for r in repos.get("repositories") or [] if r.get("name") != name]
    repos["repositories"].append({"name": name, "url": url})
    repos_file.write_text(yaml.safe_dump(repos, sort_keys=False))
    cache = helm.cache_home / "repository"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{name}-index.yaml").write_text(yaml.safe_dump(index, sort_keys=False))


@contextmanager
def mirror_for(helm: Helm, mirror_dir: Path, repositories: dict[str, str]) -> Iterator[str]:
    """Serve ``mirror_dir`` and seed helm so each upstream repository URL resolves to it.

    Args:
        helm: the helm whose (private) homes are seeded.
        mirror_dir: holds ``index.yaml`` and the chart archives it lists.
        repositories: repository name → upstream URL as written in Chart.yaml dependencies.

    Yields:
        The loopback base URL of the mirror.
    """
    index_file = mirror_dir / "index.yaml"
    if not index_file.is_file():
        raise MirrorIndexMissing(f"chart mirror {mirror_dir} has no index.yaml")
    index = yaml.safe_load(index_file.read_text()) or {}
    with serve_directory(mirror_dir) as base_url:
        rewritten = rewrite_index(index, base_url)
        for name, url in repositories.items():
            seed_repository(helm, name=name, url=url, index=rewritten)
        yield base_url


def mirror_has(mirror_dir: Path, chart: str, version: str) -> bool:
    """True when the mirror's index lists ``chart`` at ``version`` and the archive is present."""
    index_file = mirror_dir / "index.yaml"
    if not index_file.is_file():
        return False
    index = yaml.safe_load(index_file.read_text()) or {}
    for entry in (index.get("entries") or {}).get(chart, []):
        if str(entry.get("version")) == version:
            return any(
                (mirror_dir / str(u).rsplit("/", 1)[-1]).is_file() for u in entry.get("urls", [])
            )
    return False
