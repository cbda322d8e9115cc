"""charts/floe-cube/model is a copy of demo/cube/model (Helm cannot read outside the chart).

We keep a copy rather than a symlink: a chart directory must be self-contained for
`helm package`, for GitOps tools that fetch only the chart path, and for `.Files.Glob`. This
test is the sync: it fails on any difference and says how to fix it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from floe_checks.charts.helm import REPO_ROOT
from floe_checks.charts.render import ChartWorkspace

pytestmark = [
    pytest.mark.charts,
    pytest.mark.requirement("007-FR-006"),
    pytest.mark.evidence("rendered"),
]

SOURCE = REPO_ROOT / "demo" / "cube" / "model"
COPY = REPO_ROOT / "charts" / "floe-cube" / "model"
FIX = "fix: rm -r charts/floe-cube/model && cp -r demo/cube/model charts/floe-cube/model"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_chart_model_is_identical_to_the_demo_model() -> None:
    if not SOURCE.is_dir():
        pytest.skip(f"{SOURCE} does not exist yet (the demo model is written separately)")
    source, copy = _files(SOURCE), _files(COPY)
    assert sorted(copy) == sorted(source), FIX
    differing = [name for name in source if source[name] != copy[name]]
    assert differing == [], FIX


def test_model_configmap_carries_every_model_file(offline_workspace: ChartWorkspace) -> None:
    objs = offline_workspace.render("floe-cube")
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    cm = by_name[("ConfigMap", "floe-cube-model")]
    expected = {name.replace("/", "__"): data.decode() for name, data in _files(COPY).items()}
    assert {k: v.rstrip("\n") for k, v in cm["data"].items()} == {
        k: v.rstrip("\n") for k, v in expected.items()
    }
    api = by_name[("Deployment", "floe-cube-api")]
    pod = api["spec"]["template"]["spec"]
    model_volume = next(v for v in pod["volumes"] if v["name"] == "model")
    assert sorted(i["path"] for i in model_volume["configMap"]["items"]) == sorted(_files(COPY))
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["/cube/conf/model"] == "model"
