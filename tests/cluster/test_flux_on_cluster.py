"""GitOps for real (FC-003): Flux's own controllers reconcile our examples from loopback git.

source-controller, kustomize-controller and helm-controller are the real Flux binaries, built
from their Go modules by scripts/build-control-plane.sh (:mod:`floe_checks.cluster.flux`), with
the CRDs of the same module versions. The git server is Debian's ``git http-backend`` behind a
small CGI bridge (:mod:`floe_checks.cluster.gitserver`), serving a bare clone of this
repository whose ``main`` is the commit under test. The examples are applied as users copy them;
only the GitRepository's URL is pointed at the loopback server, by a patch of the test's own
Kustomization (the files under ``examples/`` stay as they are).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.cluster.controlplane import ControlPlane
from floe_checks.cluster.crds import find_crds, read_pins
from floe_checks.cluster.flux import (
    NAMESPACE,
    FluxControllers,
    crd_files,
    find_controllers,
)
from floe_checks.errors import PrerequisiteMissing
from floe_checks.ports import free_port, is_listening
from floe_checks.servers.process import ManagedProcess
from tests.cluster.conftest import Kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.requirement("FC-003")]

REPO = Path(__file__).resolve().parents[2]
FLUX_EXAMPLES = REPO / "examples" / "gitops" / "flux"
BRANCH = "main"
SOURCE = "floe-checks"  # the GitRepository's name in examples/gitops/flux/gitrepository.yaml


def _git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"git {' '.join(args)} failed in {cwd}:\n{result.stderr}"
    return result.stdout.strip()


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(clone URL, SHA of its ``main``, bare repository): this checkout served on loopback HTTP."""
    if shutil.which("git") is None:
        pytest.skip("git not on PATH — apt-get install git")
    if not (REPO / ".git").exists():
        pytest.skip(f"{REPO} is not a git checkout: there is no commit to serve")
    root = tmp_path_factory.mktemp("git-root")
    bare = root / "floe-checks.git"
    _git("clone", "--quiet", "--bare", str(REPO), str(bare), cwd=root)
    # the commit under test, not whatever main is in the origin: the examples track `main`
    head = _git("rev-parse", "HEAD", cwd=REPO)
    _git("update-ref", f"refs/heads/{BRANCH}", head, cwd=bare)
    _git("symbolic-ref", "HEAD", f"refs/heads/{BRANCH}", cwd=bare)
    port = free_port()
    server = ManagedProcess(
        name="git-http",
        argv=[
            sys.executable,
            "-m",
            "floe_checks.cluster.gitserver",
            "--root",
            str(root),
            "--port",
            str(port),
        ],
        log_path=root.parent / "git-http.log",
        cwd=REPO,
    )
    server.start()
    try:
        server.wait_ready(lambda: is_listening(port), timeout=60)
        yield f"http://127.0.0.1:{port}/floe-checks.git", head, bare
    finally:
        server.stop()


@pytest.fixture(scope="module")
def flux(
    floe_cluster: ControlPlane, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FluxControllers]:
    """The three controllers running against the session control plane, with their CRDs."""
    try:
        binaries = find_controllers()
        # the External Secrets stores are what floe-secret-stores, the first of the example's
        # dependsOn chain, applies (pinned CRDs of FC-002; no ESO controller runs)
        eso = [
            path
            for pin, path in zip(read_pins(), find_crds(), strict=True)
            if pin.project == "external-secrets"
        ]
        crds = [*crd_files(), *eso]
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc} — {exc.remediation}")
    # server-side: the HelmRelease and ESO CRDs exceed a client-side apply's annotation limit
    args = ["apply", "--server-side", "--force-conflicts", "--field-manager=floe-checks"]
    for path in crds:
        args += ["-f", str(path)]
    kubectl(*args, timeout=180)
    names = [yaml.safe_load(p.read_text(encoding="utf-8"))["metadata"]["name"] for p in crds]
    kubectl("wait", "--for=condition=Established", "--timeout=120s", *[f"crd/{n}" for n in names])
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    kubectl("apply", "-f", "-", stdin=json.dumps(namespace))
    controllers = FluxControllers(
        tmp_path_factory.mktemp("flux"), floe_cluster.kubeconfig_path, binaries
    )
    with controllers:
        started = list(controllers.processes)
        yield controllers
        controllers.check_alive()
    # stopped by PID: no controller may outlive the module
    assert [p.name for p in started if p.alive()] == []


def _condition(obj: dict[str, Any], kind: str = "Ready") -> dict[str, Any]:
    for cond in obj.get("status", {}).get("conditions", []):
        if cond["type"] == kind:
            return dict(cond)
    return {}


def _wait_ready(
    kubectl: Kubectl, flux: FluxControllers, resource: str, timeout: float = 180
) -> dict[str, Any]:
    """Poll ``resource`` in flux-system until Ready=True; fail with its last status otherwise."""
    deadline = time.monotonic() + timeout
    obj: dict[str, Any] = {}
    while time.monotonic() < deadline:
        flux.check_alive()
        got = kubectl("get", "-n", NAMESPACE, resource, "-o", "json", check=False)
        if got.returncode == 0:
            obj = json.loads(got.stdout)
            ready = _condition(obj)
            if ready.get("status") == "True" and obj["status"].get("observedGeneration") == obj[
                "metadata"
            ].get("generation"):
                return obj
        time.sleep(1)
    pytest.fail(
        f"{resource} not Ready after {timeout:.0f} s; status:\n"
        + json.dumps(obj.get("status"), indent=1)
    )


def _example(name: str) -> list[dict[str, Any]]:
    text = (FLUX_EXAMPLES / name).read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_git_repository_becomes_ready_with_the_served_commit(
    kubectl: Kubectl, flux: FluxControllers, git_server: tuple[str, str, Path]
) -> None:
    url, sha, _ = git_server
    (repo,) = _example("gitrepository.yaml")
    assert repo["metadata"]["name"] == SOURCE
    repo["spec"]["url"] = url
    kubectl("apply", "-f", "-", stdin=json.dumps(repo))
    obj = _wait_ready(kubectl, flux, f"gitrepository/{SOURCE}")
    assert obj["status"]["artifact"]["revision"] == f"{BRANCH}@sha1:{sha}"
    assert _condition(obj)["reason"] == "Succeeded"
    assert _condition(obj)["message"] == f"stored artifact for revision '{BRANCH}@sha1:{sha}'"


def test_kustomization_of_the_flux_example_applies_it_from_the_served_commit(
    kubectl: Kubectl, flux: FluxControllers, git_server: tuple[str, str, Path]
) -> None:
    """What ``flux create kustomization floe --path ./examples/gitops/flux`` sets up.

    The example's own GitRepository (URL a placeholder) is pointed at the loopback server by a
    patch in this Kustomization: the applied object must keep the loopback URL, or the source
    would switch to github.com and never be Ready here.
    """
    url, sha, _ = git_server
    kustomization = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "floe", "namespace": NAMESPACE},
        "spec": {
            "interval": "10m",
            "path": "./examples/gitops/flux",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": SOURCE},
            "patches": [
                {
                    "target": {"kind": "GitRepository", "name": SOURCE},
                    "patch": json.dumps([{"op": "replace", "path": "/spec/url", "value": url}]),
                }
            ],
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(kustomization))
    obj = _wait_ready(kubectl, flux, "kustomization/floe")
    assert obj["status"]["lastAppliedRevision"] == f"{BRANCH}@sha1:{sha}"
    # the objects of examples/gitops/flux/kustomization.yaml's resources, read from the files
    expected = sorted(
        f"{doc['metadata']['namespace']}_{doc['metadata']['name']}_"
        f"{doc['apiVersion'].split('/')[0]}_{doc['kind']}"
        for name in ("gitrepository.yaml", "kustomizations.yaml")
        for doc in _example(name)
    )
    assert sorted(entry["id"] for entry in obj["status"]["inventory"]["entries"]) == expected
    applied = json.loads(
        kubectl("get", "-n", NAMESPACE, f"gitrepository/{SOURCE}", "-o", "json").stdout
    )
    assert applied["spec"]["url"] == url
    assert applied["status"]["artifact"]["revision"] == f"{BRANCH}@sha1:{sha}"


def test_first_environment_kustomization_applies_the_cluster_secret_stores(
    kubectl: Kubectl, flux: FluxControllers, git_server: tuple[str, str, Path]
) -> None:
    """floe-secret-stores, created by the ``floe`` Kustomization above, is Ready on its own.

    It heads the example's ``dependsOn`` chain (dev, staging and prod wait for it) and has
    ``wait: true``: Ready means the ClusterSecretStores were applied and passed the health check.
    """
    _, sha, _ = git_server
    obj = _wait_ready(kubectl, flux, "kustomization/floe-secret-stores")
    assert obj["status"]["lastAppliedRevision"] == f"{BRANCH}@sha1:{sha}"
    folder = REPO / "examples" / "secrets" / "external-secrets" / "cluster-secret-stores"
    stores = [
        doc
        for name in sorted(folder.glob("*.yaml"))
        if name.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(name.read_text(encoding="utf-8"))
        if doc
    ]
    assert sorted(entry["id"] for entry in obj["status"]["inventory"]["entries"]) == sorted(
        f"_{doc['metadata']['name']}_external-secrets.io_{doc['kind']}" for doc in stores
    )
    for doc in stores:
        applied = json.loads(
            kubectl("get", f"clustersecretstore/{doc['metadata']['name']}", "-o", "json").stdout
        )
        assert applied["spec"] == doc["spec"]


def test_helm_release_of_a_chart_in_the_source_is_installed(
    kubectl: Kubectl, flux: FluxControllers, git_server: tuple[str, str, Path]
) -> None:
    """helm-controller installs ``charts/floe-cube`` from the served commit (source-controller
    packages it from the GitRepository into a HelmChart artifact).

    It found a real bug: floe-cube's pod templates wrote ``app.kubernetes.io/name`` and
    ``/instance`` twice; helm accepts that, Flux's post-renderer refused it (``mapping key
    "app.kubernetes.io/name" already defined``). Fixed in the chart, and our offline render now
    refuses any repeated key (``floe_checks.charts.render.parse_manifests``).

    floe-cube is the chart without a dependency (floe-runtime's dagster needs a Helm repository,
    not served here yet). ``disableWait``: its cubestore claims storage, and no volume
    provisioner runs on this control plane, so a waited install could never pass; the release and
    its objects are still created by the real helm-controller.
    """
    _, sha, _ = git_server
    namespace = "floe-flux-cube"
    kubectl("create", "namespace", namespace)
    chart = yaml.safe_load((REPO / "charts" / "floe-cube" / "Chart.yaml").read_text("utf-8"))
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "cube", "namespace": namespace},
        "spec": {
            "interval": "10m",
            "chart": {
                "spec": {
                    "chart": "./charts/floe-cube",
                    "reconcileStrategy": "Revision",
                    "sourceRef": {"kind": "GitRepository", "name": SOURCE, "namespace": NAMESPACE},
                }
            },
            "install": {"disableWait": True},
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(release))
    deadline = time.monotonic() + 180
    obj: dict[str, Any] = {}
    while time.monotonic() < deadline:
        flux.check_alive()
        obj = json.loads(kubectl("get", "-n", namespace, "helmrelease/cube", "-o", "json").stdout)
        if _condition(obj).get("reason") in {"InstallSucceeded", "InstallFailed"}:
            break
        time.sleep(1)
    assert _condition(obj).get("reason") == "InstallSucceeded", json.dumps(obj.get("status"))
    (latest, *_) = obj["status"]["history"]
    assert (latest["chartName"], latest["chartVersion"], latest["status"]) == (
        chart["name"],
        f"{chart['version']}+{sha[:12]}",
        "deployed",
    )
    # what the helm CLI renders for the same release name: helm-controller must create the same
    from floe_checks.charts.helm import find_helm

    rendered = subprocess.run(
        [str(find_helm()), "template", "cube", str(REPO / "charts" / "floe-cube")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = sorted(
        doc["metadata"]["name"]
        for doc in yaml.safe_load_all(rendered)
        if doc and doc["kind"] == "Deployment"
    )
    assert expected == ["cube-cube-api", "cube-cube-refresh-worker"]
    deployments = json.loads(kubectl("get", "-n", namespace, "deployments", "-o", "json").stdout)
    assert sorted(d["metadata"]["name"] for d in deployments["items"]) == expected


def test_drift_a_deleted_store_is_restored(
    kubectl: Kubectl, flux: FluxControllers, git_server: tuple[str, str, Path]
) -> None:
    """Delete an object floe-secret-stores manages; its next reconcile recreates it.

    The next reconcile is requested as ``flux reconcile kustomization`` does (the
    ``reconcile.fluxcd.io/requestedAt`` annotation) instead of waiting the example's 10m.
    """
    _, sha, _ = git_server
    kubectl("delete", "clustersecretstore/vault", "--wait=true")
    assert kubectl("get", "clustersecretstore/vault", check=False).returncode == 1
    token = str(time.time_ns())
    kubectl(
        "annotate",
        "--overwrite",
        "-n",
        NAMESPACE,
        "kustomization/floe-secret-stores",
        f"reconcile.fluxcd.io/requestedAt={token}",
    )
    deadline = time.monotonic() + 120
    obj: dict[str, Any] = {}
    while time.monotonic() < deadline:
        flux.check_alive()
        obj = json.loads(
            kubectl("get", "-n", NAMESPACE, "kustomization/floe-secret-stores", "-o", "json").stdout
        )
        if (
            obj["status"].get("lastHandledReconcileAt") == token
            and _condition(obj).get("status") == "True"
        ):
            break
        time.sleep(1)
    assert obj["status"].get("lastHandledReconcileAt") == token
    assert obj["status"]["lastAppliedRevision"] == f"{BRANCH}@sha1:{sha}"
    restored = json.loads(kubectl("get", "clustersecretstore/vault", "-o", "json").stdout)
    store = yaml.safe_load(
        (
            REPO
            / "examples"
            / "secrets"
            / "external-secrets"
            / "cluster-secret-stores"
            / "vault.yaml"
        ).read_text(encoding="utf-8")
    )
    assert restored["spec"] == store["spec"]


def test_a_push_reaches_the_cluster(
    kubectl: Kubectl,
    flux: FluxControllers,
    git_server: tuple[str, str, Path],
    tmp_path: Path,
    record_property: Any,
) -> None:
    """A commit pushed to the served ``main`` is applied without any nudge (SC-002: ≤ 5 min).

    The change: floe-secret-stores' ``timeout`` in examples/gitops/flux/kustomizations.yaml.
    source-controller polls every ``interval`` (1m in the example); kustomize-controller reacts
    to the new artifact at once. The push → applied time is recorded as ``push_to_applied_s``.
    """
    _, _, bare = git_server
    work = tmp_path / "work"
    _git("clone", "--quiet", str(bare), str(work), cwd=tmp_path)
    target = work / "examples" / "gitops" / "flux" / "kustomizations.yaml"
    text = target.read_text(encoding="utf-8")
    assert text.count("  timeout: 5m\n") == 1
    target.write_text(text.replace("  timeout: 5m\n", "  timeout: 4m\n"), encoding="utf-8")
    _git(
        "-c",
        "user.name=floe-checks",
        "-c",
        "user.email=test@floe.invalid",
        "commit",
        "--quiet",
        "-am",
        "test: shorter timeout",
        cwd=work,
    )
    pushed = _git("rev-parse", "HEAD", cwd=work)
    _git("push", "--quiet", "origin", f"HEAD:{BRANCH}", cwd=work)
    start = time.monotonic()
    deadline = start + 150
    applied: dict[str, Any] = {}
    while time.monotonic() < deadline:
        flux.check_alive()
        applied = json.loads(
            kubectl("get", "-n", NAMESPACE, "kustomization/floe-secret-stores", "-o", "json").stdout
        )
        if applied["spec"]["timeout"] == "4m":
            break
        time.sleep(1)
    elapsed = round(time.monotonic() - start, 1)
    record_property("push_to_applied_s", elapsed)
    assert applied["spec"]["timeout"] == "4m", f"not applied {elapsed} s after the push"
    floe = _wait_ready(kubectl, flux, "kustomization/floe")
    assert floe["status"]["lastAppliedRevision"] == f"{BRANCH}@sha1:{pushed}"
