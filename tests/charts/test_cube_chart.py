"""floe-cube deploys Cube's API, refresh worker and Cube Store router and workers, wired up."""

from __future__ import annotations

from typing import Any

import pytest

from floe_checks.charts.render import ChartWorkspace
from tests.charts.conftest import Variant, rendered

pytestmark = [pytest.mark.charts, pytest.mark.requirement("007-FR-006")]


def _env(obj: dict[str, Any]) -> dict[str, Any]:
    container = obj["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_default_render_has_every_cube_component(offline_workspace: ChartWorkspace) -> None:
    objs = rendered(offline_workspace, Variant("floe-cube", ()))
    by = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    api = by[("Deployment", "floe-cube-api")]
    worker = by[("Deployment", "floe-cube-refresh-worker")]
    router = by[("StatefulSet", "floe-cube-cubestore-router")]
    workers = by[("StatefulSet", "floe-cube-cubestore-worker")]
    assert api["spec"]["replicas"] == 2
    assert worker["spec"]["replicas"] == 1
    assert workers["spec"]["replicas"] == 2
    assert api["spec"]["template"]["spec"]["containers"][0]["image"] == "floe/floe-cube:0.1.0"
    assert router["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "cubejs/cubestore:v1.7.43"
    )
    # API and refresh worker talk to the router Service; only the worker refreshes.
    assert _env(api)["CUBEJS_CUBESTORE_HOST"] == "floe-cube-cubestore-router"
    assert "CUBEJS_REFRESH_WORKER" not in _env(api)
    assert _env(worker)["CUBEJS_REFRESH_WORKER"] == "true"
    assert _env(api)["CUBEJS_API_SECRET"] == {
        "secretKeyRef": {"name": "floe-cube-api", "key": "CUBEJS_API_SECRET"}
    }
    assert _env(api)["CUBEJS_DB_PASS"] == {
        "secretKeyRef": {"name": "floe-warehouse", "key": "FLOE_WAREHOUSE_PASSWORD"}
    }
    # The router knows every worker by its stable DNS name; workers know the router.
    expected_workers = (
        "floe-cube-cubestore-worker-0.floe-cube-cubestore-worker:9001,"
        "floe-cube-cubestore-worker-1.floe-cube-cubestore-worker:9001"
    )
    assert _env(router)["CUBESTORE_WORKERS"] == expected_workers
    assert _env(workers)["CUBESTORE_META_ADDR"] == "floe-cube-cubestore-router:9999"
    assert by[("Service", "floe-cube-cubestore-worker")]["spec"]["clusterIP"] == "None"


def test_without_cubestore_cube_keeps_cache_and_queue_in_memory(
    offline_workspace: ChartWorkspace,
) -> None:
    objs = rendered(offline_workspace, Variant("floe-cube", ("values-dev.yaml",)))
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objs)
    assert kinds == [
        "ConfigMap/floe-cube-model",
        "Deployment/floe-cube-api",
        "Deployment/floe-cube-refresh-worker",
        "Service/floe-cube",
    ]
    api = next(o for o in objs if o["metadata"]["name"] == "floe-cube-api")
    assert _env(api)["CUBEJS_CACHE_AND_QUEUE_DRIVER"] == "memory"
    assert _env(api)["CUBEJS_EXTERNAL_DEFAULT"] == "false"
