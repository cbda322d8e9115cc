"""floe-cube deploys Cube's API, refresh worker and Cube Store router and workers, wired up."""

from __future__ import annotations

import re
from typing import Any

import pytest

from floe_checks.charts.helm import REPO_ROOT
from floe_checks.charts.render import ChartWorkspace
from floe_checks.charts.wiring import check_cube_refresh
from floe_checks.errors import ChartError
from tests.charts.conftest import VARIANTS, Variant, rendered

ENVIRONMENTS = REPO_ROOT / "examples" / "environments"

pytestmark = [
    pytest.mark.charts,
    pytest.mark.requirement("007-FR-006"),
    pytest.mark.evidence("rendered"),
]


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


def test_without_cubestore_the_api_runs_the_refresh_worker(
    offline_workspace: ChartWorkspace,
) -> None:
    """Issue 20 point 5: in-memory cache and queue → one process, the API, refreshes itself."""
    objs = rendered(offline_workspace, Variant("floe-cube", ("values-dev.yaml",)))
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objs)
    assert kinds == [
        "ConfigMap/floe-cube-model",
        "Deployment/floe-cube-api",
        "Service/floe-cube",
    ]
    api = next(o for o in objs if o["metadata"]["name"] == "floe-cube-api")
    assert api["spec"]["replicas"] == 1
    assert _env(api)["CUBEJS_CACHE_AND_QUEUE_DRIVER"] == "memory"
    assert _env(api)["CUBEJS_EXTERNAL_DEFAULT"] == "false"
    assert _env(api)["CUBEJS_REFRESH_WORKER"] == "true"
    assert check_cube_refresh(objs) == []


CUBE_RENDERS = [v for v in VARIANTS if v.chart != "floe-dagster"]


@pytest.mark.parametrize("variant", CUBE_RENDERS, ids=lambda v: v.id)
def test_every_profile_serves_the_refresh_workers_rollups(
    offline_workspace: ChartWorkspace, variant: Variant
) -> None:
    objs = rendered(offline_workspace, variant)
    assert check_cube_refresh(objs) == []


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_environment_serves_the_refresh_workers_rollups(
    offline_workspace: ChartWorkspace, env: str
) -> None:
    objs = offline_workspace.render("floe-runtime", [ENVIRONMENTS / env / "values.yaml"])
    assert check_cube_refresh(objs) == []


def test_the_broken_combination_is_detected_in_a_render() -> None:
    """What the old dev/demo values rendered: API and refresh worker apart, in-memory driver."""
    api_env = [
        {"name": "CUBEJS_DB_TYPE", "value": "postgres"},
        {"name": "CUBEJS_CACHE_AND_QUEUE_DRIVER", "value": "memory"},
    ]

    def deployment(name: str, env: list[dict[str, str]], replicas: int = 1) -> dict[str, Any]:
        return {
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "template": {"spec": {"containers": [{"name": "c", "env": env}]}},
            },
        }

    worker_env = [*api_env, {"name": "CUBEJS_REFRESH_WORKER", "value": "true"}]
    assert check_cube_refresh(
        [deployment("floe-cube-api", api_env), deployment("floe-cube-refresh-worker", worker_env)]
    ) == [
        "Deployment/floe-cube-api, Deployment/floe-cube-refresh-worker: separate Cube processes "
        "with the in-memory cache and queue share nothing; the API never serves the refresh "
        "worker's rollups",
        "Deployment/floe-cube-api: in-memory cache and queue without CUBEJS_REFRESH_WORKER=true",
    ]
    assert check_cube_refresh([deployment("floe-cube-api", worker_env, replicas=2)]) == [
        "Deployment/floe-cube-api: 2 replicas with the in-memory cache and queue"
    ]


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            {"cubestore.enabled": "false", "refreshWorker.enabled": "true"},
            "floe-cube: refreshWorker.enabled=true needs cubestore.enabled=true",
        ),
        (
            {
                "cubestore.enabled": "false",
                "refreshWorker.enabled": "false",
                "api.replicaCount": "2",
            },
            "floe-cube: api.replicaCount=2 needs cubestore.enabled=true",
        ),
    ],
)
def test_the_chart_refuses_the_broken_combinations(
    offline_workspace: ChartWorkspace, sets: dict[str, str], message: str
) -> None:
    with pytest.raises(ChartError, match=re.escape(message)):
        offline_workspace.render("floe-cube", (), sets)
