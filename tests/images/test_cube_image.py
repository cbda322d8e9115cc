"""docker/Dockerfile.cube built and run for real, without Docker (issue 19, stage 1).

The Dockerfile starts ``FROM cubejs/cube:v1.7.43``, which no reachable registry serves, and Cube
1.x cannot run here (its Rust modules come from release pages). So its own layers (the data
model, env, user, health check) are built, unchanged, on a local stand-in base that runs Cube
0.33.65 from npm (docker/Dockerfile.cube-base-local, tagged with that name in our cache-folder
store only). What this cannot check: Cube 1.x itself, Cube Store.

The container runs with ``--network none``; the real PostgreSQL it queries is a throwaway
cluster whose unix socket folder is mounted in. Evidence ``service``, not ``cluster``: no
kubelet ran it (docs/compliance.md).
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest
import yaml

from floe_checks import images
from floe_checks.tokens import hs256_token

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "demo" / "cube" / "node_modules"

pytestmark = [
    pytest.mark.evidence("service"),
    pytest.mark.requirement("007-FR-002"),
    pytest.mark.xdist_group("floe-images"),
]

# Run inside the container (no network: the only way in is `podman exec`): waits for /readyz,
# then prints its status and the names of the cubes /cubejs-api/v1/meta serves.
PROBE = """
const http = require('http');
const get = (path, headers) => new Promise((resolve, reject) => {
  http.get({host: '127.0.0.1', port: 4000, path, headers}, (res) => {
    let body = '';
    res.on('data', (c) => { body += c; });
    res.on('end', () => resolve([res.statusCode, body]));
  }).on('error', reject);
});
(async () => {
  let ready = [0, ''];
  for (let i = 0; i < 120 && ready[0] !== 200; i++) {
    try { ready = await get('/readyz', {}); } catch (e) { ready = [0, String(e)]; }
    if (ready[0] !== 200) await new Promise((r) => setTimeout(r, 500));
  }
  const meta = await get('/cubejs-api/v1/meta', {Authorization: process.env.PROBE_TOKEN});
  const names = meta[0] === 200 ? JSON.parse(meta[1]).cubes.map((c) => c.name).sort() : meta[1];
  console.log(JSON.stringify({readyz: ready[0], meta: meta[0], cubes: names}));
})();
"""


@pytest.fixture(scope="session")
def cube_image(podman: images.Podman) -> str:
    from filelock import FileLock

    with FileLock(str(podman.cache / "build.lock")):
        try:
            ref, _built = images.build_cube_image(podman, REPO_ROOT, NODE_MODULES)
        except images.ImageError as exc:
            if "run scripts/setup.d" in str(exc):
                pytest.skip(f"cannot build the Cube image here: {exc}")
            raise
    return ref


def model_cube_names() -> list[str]:
    names: list[str] = []
    for path in sorted((REPO_ROOT / "demo" / "cube" / "model").glob("*.yml")):
        names.extend(cube["name"] for cube in yaml.safe_load(path.read_text())["cubes"])
    return sorted(names)


def test_cube_image_serves_readyz_and_meta_with_our_model(
    podman: images.Podman, cube_image: str, session_label: str
) -> None:
    from floe_checks.servers.postgres import throwaway_postgres

    api_secret = secrets.token_urlsafe(24)
    with throwaway_postgres("floe-pg-cube-image-") as pg:
        started = podman.run(
            "run",
            "--detach",
            "--rm",
            "--network",
            "none",
            "--label",
            session_label,
            "--volume",
            f"{pg.base_dir / 'sock'}:/pgsock",
            # Credentials reach the container only as environment variables (FR-004).
            "--env",
            "CUBEJS_DB_TYPE=postgres",
            "--env",
            "CUBEJS_DB_HOST=/pgsock",
            "--env",
            f"CUBEJS_DB_PORT={pg.port}",
            "--env",
            "CUBEJS_DB_NAME=postgres",
            "--env",
            "CUBEJS_DB_USER=postgres",
            "--env",
            f"CUBEJS_DB_PASS={pg.password}",
            "--env",
            f"CUBEJS_API_SECRET={api_secret}",
            "--env",
            "CUBEJS_CACHE_AND_QUEUE_DRIVER=memory",
            "--env",
            "CUBEJS_EXTERNAL_DEFAULT=false",
            "--env",
            "CUBEJS_DEFAULT_API_SCOPES=meta,data",
            "--env",
            "CUBEJS_PG_SQL_PORT=false",
            cube_image,
        )
        container = started.stdout.strip()
        try:
            began = time.monotonic()
            probe = podman.run(
                "exec",
                "--env",
                f"PROBE_TOKEN={hs256_token(api_secret)}",
                container,
                "node",
                "-e",
                PROBE,
                check=False,
                timeout=180,
            )
            logs = podman.run("logs", container, check=False)
            assert probe.returncode == 0, probe.stderr + logs.stdout + logs.stderr
            result = json.loads(probe.stdout.strip().splitlines()[-1])
            assert result == {"readyz": 200, "meta": 200, "cubes": model_cube_names()}, (
                logs.stdout + logs.stderr
            )
            print(f"cube image ready and served meta in {time.monotonic() - began:.1f} s")
        finally:
            podman.run("rm", "-f", container, check=False)
