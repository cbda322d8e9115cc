"""GitOps for real (FC-003): Flux's own controllers reconcile our examples from loopback git.

source-controller, kustomize-controller and helm-controller are the real Flux binaries, built
from their Go modules by scripts/build-flux.sh (:mod:`floe_checks.cluster.flux`), with
the CRDs of the same module versions. The git server is Debian's ``git http-backend`` behind a
small CGI bridge (:mod:`floe_checks.cluster.gitserver`), serving a bare clone of this
repository whose ``main`` is the commit under test. The examples are applied as users copy them;
only the GitRepository's URL is pointed at the loopback server, by a patch of the test's own
Kustomization (the files under ``examples/`` stay as they are).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
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
    find_tools,
)
from floe_checks.cluster.gitserver import GitServer
from floe_checks.errors import PrerequisiteMissing
from tests.cluster.conftest import Kubectl
from tests.cluster.kube import flux_condition, flux_ready, flux_status, wait_for_flux

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
    if not (REPO / ".git").exists():
        pytest.skip(f"{REPO} is not a git checkout: there is no commit to serve")
    server = GitServer(REPO, tmp_path_factory.mktemp("git-root"), BRANCH)
    try:
        server.start()
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc} — {exc.remediation}")
    try:
        yield server.url, server.head, server.bare
    finally:
        server.stop()
    assert server.process is not None
    assert not server.process.alive()


@pytest.fixture(scope="module")
def flux(
    floe_cluster: ControlPlane, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FluxControllers]:
    """The three controllers running against the session control plane, with their CRDs."""
    try:
        binaries = find_controllers()
        # the External Secrets stores are what floe-secret-stores, the first of the example's
        # dependsOn chain, applies; the environments add ExternalSecrets and SealedSecrets
        # (pinned CRDs of FC-002; neither operator's controller runs)
        eso = [
            path
            for pin, path in zip(read_pins(), find_crds(), strict=True)
            if pin.project in ("external-secrets", "sealed-secrets")
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


def _ready(
    kube_cluster: Any, flux: FluxControllers, kind: str, name: str, **kw: Any
) -> dict[str, Any]:
    """``kind/name`` in flux-system, Ready for its current generation (pytest-helm-charts' wait)."""
    return wait_for_flux(kube_cluster, kind, name, NAMESPACE, alive=flux.check_alive, **kw)


def _released(
    kube_cluster: Any, flux: FluxControllers, namespace: str, name: str, reasons: set[str]
) -> dict[str, Any]:
    """The HelmRelease once its Ready reason is one of ``reasons``; on timeout the failure
    shows the HelmChart source-controller builds for it too (the usual place it is stuck)."""

    def done(obj: dict[str, Any]) -> bool:
        # the history may land in a later status write than the Ready reason (seen once under
        # load: InstallSucceeded without status.history)
        return flux_condition(obj).get("reason") in reasons and bool(
            obj.get("status", {}).get("history")
        )

    def context() -> str:
        chart = f"{namespace}-{name}"
        status = flux_status(kube_cluster, "HelmChart", chart, NAMESPACE)
        return f"HelmChart {NAMESPACE}/{chart}: {status}"

    return wait_for_flux(
        kube_cluster, "HelmRelease", name, namespace, done, alive=flux.check_alive, context=context
    )


def _push(
    bare: Path,
    branch: str,
    files: dict[str, str],
    message: str,
    workdir: Path,
    remove: tuple[str, ...] = (),
) -> str:
    """Commit ``files`` (repository path → text) on top of ``branch`` of the served repository
    (``main`` when the branch does not exist yet) and push it there, as a user would; the SHA."""
    work = workdir / f"push-{branch}"
    if work.exists():
        shutil.rmtree(work)
    _git("clone", "--quiet", str(bare), str(work), cwd=workdir)
    heads = _git("ls-remote", "--heads", "origin", branch, cwd=work)
    _git("checkout", "--quiet", "-B", branch, f"origin/{branch if heads else BRANCH}", cwd=work)
    for path, text in files.items():
        (work / path).write_text(text, encoding="utf-8")
    _git("add", *files, cwd=work)
    if remove:
        _git("rm", "--quiet", "--ignore-unmatch", *remove, cwd=work)
    _git(
        "-c",
        "user.name=floe-checks",
        "-c",
        "user.email=test@floe.invalid",
        "commit",
        "--quiet",
        "-m",
        message,
        cwd=work,
    )
    _git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return _git("rev-parse", "HEAD", cwd=work)


def _git_repository(url: str, name: str, branch: str) -> dict[str, Any]:
    """The example's GitRepository under another name, following ``branch`` of ``url``."""
    (repo,) = _example("gitrepository.yaml")
    repo["metadata"]["name"] = name
    repo["spec"]["url"] = url
    repo["spec"]["ref"] = {"branch": branch}
    return dict(repo)


def _example(name: str) -> list[dict[str, Any]]:
    text = (FLUX_EXAMPLES / name).read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_git_repository_becomes_ready_with_the_served_commit(
    kubectl: Kubectl,
    kube_cluster: Any,
    flux: FluxControllers,
    git_server: tuple[str, str, Path],
) -> None:
    url, sha, _ = git_server
    (repo,) = _example("gitrepository.yaml")
    assert repo["metadata"]["name"] == SOURCE
    repo["spec"]["url"] = url
    kubectl("apply", "-f", "-", stdin=json.dumps(repo))
    obj = _ready(kube_cluster, flux, "GitRepository", SOURCE)
    assert obj["status"]["artifact"]["revision"] == f"{BRANCH}@sha1:{sha}"
    assert flux_condition(obj)["reason"] == "Succeeded"
    assert flux_condition(obj)["message"] == f"stored artifact for revision '{BRANCH}@sha1:{sha}'"


def test_kustomization_of_the_flux_example_applies_it_from_the_served_commit(
    kubectl: Kubectl,
    kube_cluster: Any,
    flux: FluxControllers,
    git_server: tuple[str, str, Path],
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
    obj = _ready(kube_cluster, flux, "Kustomization", "floe")
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
    kubectl: Kubectl,
    kube_cluster: Any,
    flux: FluxControllers,
    git_server: tuple[str, str, Path],
) -> None:
    """floe-secret-stores, created by the ``floe`` Kustomization above, is Ready on its own.

    It heads the example's ``dependsOn`` chain (dev, staging and prod wait for it) and has
    ``wait: true``: Ready means the ClusterSecretStores were applied and passed the health check.
    """
    _, sha, _ = git_server
    obj = _ready(kube_cluster, flux, "Kustomization", "floe-secret-stores")
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
    kubectl: Kubectl,
    kube_cluster: Any,
    flux: FluxControllers,
    git_server: tuple[str, str, Path],
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
    obj = _released(kube_cluster, flux, namespace, "cube", {"InstallSucceeded", "InstallFailed"})
    assert flux_condition(obj).get("reason") == "InstallSucceeded", json.dumps(obj.get("status"))
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
    kubectl: Kubectl,
    kube_cluster: Any,
    flux: FluxControllers,
    git_server: tuple[str, str, Path],
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
    obj = _ready(
        kube_cluster,
        flux,
        "Kustomization",
        "floe-secret-stores",
        done=lambda o: o["status"].get("lastHandledReconcileAt") == token and flux_ready(o),
    )
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


EXAMPLE_RECIPIENT = (
    "age1wfejtq73uc5z5am5yzxcqcuf2gwcurs6taag4lswku20ahcadv4sukjg06"  # pragma: allowlist secret
)
# a private, non-credential setting (an internal endpoint), as the example's comment describes.
# Not global.imageRegistry, which the committed example encrypts: floe-dagster's validate.yaml
# then refuses the release unless every Dagster image value carries that registry too (found
# by the dependsOn test below; docs/gitops.md)
SOPS_PLAINTEXT = "floe-cube:\n  database:\n    host: warehouse.floe-test.invalid\n"


@pytest.fixture(scope="module")
def sops_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, dict[str, str]]:
    """(age private key, its recipient, repository path → text): examples/secrets/sops made
    for a key generated now, as examples/secrets/README.md tells a user to (real ``age-keygen``,
    real ``sops --encrypt --in-place`` after the recipient in ``.sops.yaml`` is replaced)."""
    try:
        tools = find_tools()
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc} — {exc.remediation}")
    tmp_path = tmp_path_factory.mktemp("sops")
    key = tmp_path / "test.agekey"
    subprocess.run([str(tools["age-keygen"]), "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run(
        [str(tools["age-keygen"]), "-y", str(key)], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert recipient.startswith("age1")
    folder = "examples/secrets/sops"
    config = (REPO / folder / ".sops.yaml").read_text(encoding="utf-8")
    assert config.count(EXAMPLE_RECIPIENT) == 1
    enc_dir = tmp_path / "enc"
    enc_dir.mkdir()
    (enc_dir / ".sops.yaml").write_text(
        config.replace(EXAMPLE_RECIPIENT, recipient), encoding="utf-8"
    )
    (enc_dir / "values.enc.yaml").write_text(SOPS_PLAINTEXT, encoding="utf-8")
    # no key in the environment: encryption needs only the recipient
    subprocess.run(
        [str(tools["sops"]), "--encrypt", "--in-place", "values.enc.yaml"],
        cwd=enc_dir,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    encrypted = (enc_dir / "values.enc.yaml").read_text(encoding="utf-8")
    assert "warehouse.floe-test.invalid" not in encrypted
    assert yaml.safe_load(encrypted)["sops"]["age"][0]["recipient"] == recipient
    files = {
        f"{folder}/.sops.yaml": (enc_dir / ".sops.yaml").read_text(encoding="utf-8"),
        f"{folder}/values.enc.yaml": encrypted,
    }
    return key.read_text(encoding="utf-8"), recipient, files


def test_sops_values_are_decrypted_with_a_key_made_for_the_test(
    kubectl: Kubectl,
    kube_cluster: Any,
    flux: FluxControllers,
    git_server: tuple[str, str, Path],
    sops_files: tuple[str, str, dict[str, str]],
    tmp_path: Path,
) -> None:
    """kustomize-controller decrypts examples/secrets/sops with an age key made now (test 2).

    The committed ``values.enc.yaml`` is encrypted for an example key nobody holds. As its
    README tells a user, the test makes an age key pair (the real ``age-keygen``), puts the
    public key into the folder's ``.sops.yaml`` and re-encrypts the values with the real
    ``sops``, in a throwaway clone pushed to a branch of the served repository; the private key
    goes into the ``sops-age`` Secret the example's Kustomizations name. The Secret the folder's
    generator makes must hold the plaintext; the committed example, read by the same key, must
    not decrypt.
    """
    url, _, bare = git_server
    key, _, files = sops_files
    folder = "examples/secrets/sops"
    example_recipient = EXAMPLE_RECIPIENT
    _push(
        bare,
        "sops-test",
        files,
        "test: re-encrypt the SOPS example for the test's age key",
        tmp_path,
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "sops-age", "namespace": NAMESPACE},
        "stringData": {"age.agekey": key},
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(secret))
    namespaces = {"floe-sops": "floe-checks-sops", "floe-sops-committed": "floe-checks-committed"}
    objects: list[dict[str, Any]] = [
        _git_repository(url, "floe-checks-sops", "sops-test"),
        _git_repository(url, "floe-checks-committed", BRANCH),
    ]
    for name, source in namespaces.items():
        kubectl("create", "namespace", name)
        objects.append(
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "interval": "10m",
                    "path": f"./{folder}",
                    "prune": True,
                    "targetNamespace": name,
                    "sourceRef": {"kind": "GitRepository", "name": source},
                    "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}},
                },
            }
        )
    kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    )
    _ready(kube_cluster, flux, "Kustomization", "floe-sops")
    made = json.loads(
        kubectl("get", "-n", "floe-sops", "secret/floe-runtime-private-values", "-o", "json").stdout
    )
    assert list(made["data"]) == ["values.yaml"]
    decrypted = base64.b64decode(made["data"]["values.yaml"]).decode()
    assert yaml.safe_load(decrypted) == yaml.safe_load(SOPS_PLAINTEXT)
    # the committed file is for the example key: the test's key cannot open it
    committed = _ready(
        kube_cluster,
        flux,
        "Kustomization",
        "floe-sops-committed",
        done=lambda o: flux_condition(o).get("status") == "False",
    )
    refused = flux_condition(committed)
    assert (refused["status"], refused["reason"]) == ("False", "BuildFailed")
    first, _, rest = refused["message"].partition("\n")
    assert first == (
        "error decrypting sources: cannot get sops data key: "
        "Failed to get the data key required to decrypt the SOPS file."
    )
    assert f"{example_recipient}: FAILED" in rest
    assert "identity did not match any of the recipients" in rest
    assert (
        kubectl(
            "get", "-n", "floe-sops-committed", "secret/floe-runtime-private-values", check=False
        ).returncode
        == 1
    )


def test_environment_kustomizations_become_ready_in_their_depends_on_order(
    kubectl: Kubectl,
    kube_cluster: Any,
    flux: FluxControllers,
    git_server: tuple[str, str, Path],
    sops_files: tuple[str, str, dict[str, str]],
    tmp_path: Path,
) -> None:
    """Issue test 1 whole: the example's floe-dev, floe-staging and floe-prod (made by the
    ``floe`` Kustomization above, unchanged) become Ready in their ``dependsOn`` order, each
    with its HelmRelease Ready and the SOPS-made private values in its workloads.

    What the served ``main`` needs for that, pushed as one commit: the SOPS values encrypted for
    the test's key (``sops_files``; the key goes into ``flux-system/sops-age``), and
    floe-dagster without the official Dagster chart (unreachable here; see
    ``environments_branch``). Static PersistentVolumes stand in for a provisioner (Cube Store's
    claims in staging and prod; the Kustomizations have ``wait: true``). The Kustomizations are
    nudged as ``flux reconcile kustomization`` does once the one they depend on is Ready,
    instead of waiting the controller's 30 s dependency requeue; the order is still the
    controller's: a Kustomization is not applied while one it depends on is not Ready.
    """
    from floe_checks.charts.render import prepare_workspace

    # placed before the module's other HelmReleases: after them, floe-staging's waited install
    # timed out (5 min) in a full run of the file, while this test passed without them
    _, _, bare = git_server
    key, _, files = sops_files
    chart_yaml = REPO / "charts" / "floe-dagster" / "Chart.yaml"
    meta = yaml.safe_load(chart_yaml.read_text(encoding="utf-8"))
    meta["dependencies"] = [d for d in meta["dependencies"] if d["name"] != "dagster"]
    if not meta["dependencies"]:
        del meta["dependencies"]
    pvs = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"floe-flux-pv-{i}"},
            "spec": {
                "capacity": {"storage": "1Ti"},
                "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": f"/nonexistent/floe-flux-pv-{i}"},
            },
        }
        # the earlier HelmReleases of this module (disableWait) hold claims that bind too
        for i in range(40)
    ]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "sops-age", "namespace": NAMESPACE},
        "stringData": {"age.agekey": key},
    }
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [*pvs, secret]}),
    )
    pushed = _push(
        bare,
        BRANCH,
        {
            **files,
            "charts/floe-dagster/Chart.yaml": yaml.safe_dump(meta, sort_keys=False),
        },
        "test: SOPS values for the test key; floe-dagster without the unreachable Dagster chart",
        tmp_path,
        remove=("charts/floe-dagster/Chart.lock",),
    )
    revision = f"{BRANCH}@sha1:{pushed}"
    order = ["floe-dev", "floe-staging", "floe-prod"]

    def nudge(resource: str) -> None:
        kubectl(
            "annotate",
            "--overwrite",
            "-n",
            NAMESPACE,
            resource,
            f"reconcile.fluxcd.io/requestedAt={time.time_ns()}",
        )

    nudge(f"gitrepository/{SOURCE}")
    # one after the other: each waited for (pytest-helm-charts' wait), then the next nudged; a
    # Kustomization Ready before the one it depends on would show in the transition times below
    objs: dict[str, dict[str, Any]] = {}
    for name in order:
        objs[name] = _ready(
            kube_cluster,
            flux,
            "Kustomization",
            name,
            done=lambda o: flux_ready(o) and o["status"].get("lastAppliedRevision") == revision,
            context=lambda: json.dumps({n: o.get("status") for n, o in objs.items()}, indent=1),
        )
        following = order.index(name) + 1
        if following < len(order):
            nudge(f"kustomization/{order[following]}")
    ready_at = {name: flux_condition(objs[name])["lastTransitionTime"] for name in order}
    # Ready one after the other (lastTransitionTime has whole seconds: equal is possible)
    assert [ready_at[n] for n in order] == sorted(ready_at[n] for n in order)
    for name in order:
        assert objs[name]["spec"]["dependsOn"][-1]["name"] == (
            "floe-secret-stores" if name == "floe-dev" else order[order.index(name) - 1]
        )

    private = yaml.safe_load(SOPS_PLAINTEXT)
    values_private = tmp_path / "private-values.yaml"
    values_private.write_text(SOPS_PLAINTEXT, encoding="utf-8")
    ws = prepare_workspace(tmp_path / "charts", offline=True)
    for name in order:
        env = name.removeprefix("floe-")
        release = json.loads(
            kubectl("get", "-n", name, "helmrelease/floe-runtime", "-o", "json").stdout
        )
        assert flux_condition(release)["reason"] == "InstallSucceeded"
        expected = _workloads(
            ws.render(
                "floe-runtime",
                [REPO / "examples" / "environments" / env / "values.yaml", values_private],
                release="floe-runtime",
                namespace=name,
            )
        )
        got = _workloads(
            json.loads(kubectl("get", "-n", name, "deployments,statefulsets", "-o", "json").stdout)[
                "items"
            ]
        )
        assert got == expected
        # the private endpoint came from the SOPS-encrypted values, through valuesFrom
        deployment = json.loads(
            kubectl("get", "-n", name, "deployment/floe-runtime-cube-api", "-o", "json").stdout
        )
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env_vars = {e["name"]: e.get("value") for e in container["env"]}
        assert env_vars["CUBEJS_DB_HOST"] == private["floe-cube"]["database"]["host"]


def test_a_push_of_values_the_schema_refuses_leaves_the_release_as_it_was(
    kubectl: Kubectl,
    kube_cluster: Any,
    flux: FluxControllers,
    git_server: tuple[str, str, Path],
    tmp_path: Path,
) -> None:
    """A broken push (issue test 5): values that fail charts/floe-cube/values.schema.json.

    A HelmRelease of floe-cube with the chart's dev values (``valuesFiles`` from the source) is
    installed from branch ``cube-values``; then a commit setting ``api.replicaCount: 0`` (the
    schema's minimum is 1) is pushed there. helm-controller must report the schema's message and
    leave the running release alone: the same revision, the same Deployment spec.
    """
    url, sha, bare = git_server
    branch, source, namespace, name = "cube-values", "floe-checks-cube", "floe-flux-broken", "cube"
    values_path = "charts/floe-cube/values-dev.yaml"
    _git("branch", branch, sha, cwd=bare)
    kubectl("create", "namespace", namespace)
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "interval": "10m",
            "chart": {
                "spec": {
                    "chart": "./charts/floe-cube",
                    "reconcileStrategy": "Revision",
                    "valuesFiles": ["charts/floe-cube/values.yaml", values_path],
                    "sourceRef": {"kind": "GitRepository", "name": source, "namespace": NAMESPACE},
                }
            },
            "install": {"disableWait": True},
            "upgrade": {"disableWait": True},
        },
    }
    objects = [_git_repository(url, source, branch), release]
    kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    )
    obj = _released(kube_cluster, flux, namespace, name, {"InstallSucceeded", "InstallFailed"})
    assert flux_condition(obj).get("reason") == "InstallSucceeded", json.dumps(obj.get("status"))
    before = json.loads(
        kubectl("get", "-n", namespace, "deployment/cube-cube-api", "-o", "json").stdout
    )
    assert before["spec"]["replicas"] == 1  # values-dev.yaml's api.replicaCount
    (installed, *_) = obj["status"]["history"]
    assert (installed["chartVersion"], installed["status"]) == (f"0.1.0+{sha[:12]}.1", "deployed")

    text = (REPO / values_path).read_text(encoding="utf-8")
    assert text.count("  replicaCount: 1\n") == 1
    broken = _push(
        bare,
        branch,
        {values_path: text.replace("  replicaCount: 1\n", "  replicaCount: 0\n")},
        "test: scale the API to zero (the schema refuses it)",
        tmp_path,
    )
    # fetch the push now instead of after the example's 1m poll (flux reconcile source git)
    kubectl(
        "annotate",
        "--overwrite",
        "-n",
        NAMESPACE,
        f"gitrepository/{source}",
        f"reconcile.fluxcd.io/requestedAt={time.time_ns()}",
    )
    obj = _released(kube_cluster, flux, namespace, name, {"UpgradeFailed", "UpgradeSucceeded"})
    ready = flux_condition(obj)
    # source-controller versions a chart with valuesFiles as <version>+<commit[:12]>.<HelmChart
    # generation>; the HelmChart was not changed, so generation 1
    attempted = f"0.1.0+{broken[:12]}.1"
    assert (ready["status"], ready["reason"]) == ("False", "UpgradeFailed")
    assert ready["message"] == (
        f"Helm upgrade failed for release {namespace}/{name} with chart floe-cube@{attempted}: "
        "values don't meet the specifications of the schema(s) in the following chart(s):\n"
        "floe-cube:\n"
        "- at '/api/replicaCount': minimum: got 0, want 1"
    )
    assert obj["status"]["lastAttemptedRevision"] == attempted
    assert obj["status"]["lastAttemptedReleaseAction"] == "upgrade"
    # nothing half-applied: the installed release is still the only one, and what it made is
    # untouched
    assert len(obj["status"]["history"]) == 1
    assert obj["status"]["history"][0] == installed
    after = json.loads(
        kubectl("get", "-n", namespace, "deployment/cube-cube-api", "-o", "json").stdout
    )
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    helm_secrets = json.loads(
        kubectl("get", "-n", namespace, "secrets", "-l", "owner=helm", "-o", "json").stdout
    )
    assert sorted(s["metadata"]["name"] for s in helm_secrets["items"]) == [
        f"sh.helm.release.v1.{name}.v1"
    ]


def test_a_push_reaches_the_cluster(
    kubectl: Kubectl,
    kube_cluster: Any,
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
    applied = _ready(
        kube_cluster,
        flux,
        "Kustomization",
        "floe-secret-stores",
        done=lambda o: o["spec"]["timeout"] == "4m",
    )
    elapsed = round(time.monotonic() - start, 1)
    record_property("push_to_applied_s", elapsed)
    assert applied["spec"]["timeout"] == "4m", f"not applied {elapsed} s after the push"
    # floe-secret-stores' spec changes when the objects are applied; floe's status follows in
    # a later write, and its Ready of the previous revision is still current until then
    revision = f"{BRANCH}@sha1:{pushed}"
    floe = _ready(
        kube_cluster,
        flux,
        "Kustomization",
        "floe",
        done=lambda o: flux_ready(o) and o["status"].get("lastAppliedRevision") == revision,
    )
    assert floe["status"]["lastAppliedRevision"] == revision


ENVIRONMENTS = sorted(p.name for p in (REPO / "examples" / "environments").iterdir() if p.is_dir())
ENV_BRANCH = "environments"


@pytest.fixture(scope="module")
def environments_branch(
    git_server: tuple[str, str, Path], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """Branch ``environments`` of the served repository: the commit under test with the official
    Dagster chart dropped from floe-dagster's dependencies, as the offline render does
    (:func:`floe_checks.charts.render.prepare_workspace`, ``offline=True``).

    The Dagster chart is in no Helm repository reachable here (docs/charts.md), and
    source-controller fetches every dependency a chart lists, switched off or not, so the
    switch ``floe-dagster.dagster.enabled=false`` alone is not enough.
    """
    _, sha, bare = git_server
    # from the commit under test: main may already carry the dependsOn test's push
    _git("branch", ENV_BRANCH, sha, cwd=bare)
    chart_yaml = REPO / "charts" / "floe-dagster" / "Chart.yaml"
    meta = yaml.safe_load(chart_yaml.read_text(encoding="utf-8"))
    meta["dependencies"] = [d for d in meta["dependencies"] if d["name"] != "dagster"]
    if not meta["dependencies"]:
        del meta["dependencies"]
    work = tmp_path_factory.mktemp("environments")
    _push(
        bare,
        ENV_BRANCH,
        {"charts/floe-dagster/Chart.yaml": yaml.safe_dump(meta, sort_keys=False)},
        "test: floe-dagster without the official Dagster chart (unreachable here)",
        work,
        remove=("charts/floe-dagster/Chart.lock",),
    )
    return ENV_BRANCH


def _workloads(objs: list[dict[str, Any]]) -> dict[str, Any]:
    """(kind/name) → replicas and, per container, image and resources: what an environment sets."""
    return {
        f"{o['kind']}/{o['metadata']['name']}": {
            "replicas": o["spec"].get("replicas", 1),
            "containers": {
                c["name"]: {"image": c["image"], "resources": c.get("resources", {})}
                for c in o["spec"]["template"]["spec"]["containers"]
            },
        }
        for o in objs
        if o.get("kind") in ("Deployment", "StatefulSet")
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_helm_release_of_an_environment_carries_its_values(
    env: str,
    kubectl: Kubectl,
    kube_cluster: Any,
    flux: FluxControllers,
    git_server: tuple[str, str, Path],
    environments_branch: str,
    tmp_path: Path,
) -> None:
    """Issue test 1 for the environments: the floe-runtime HelmRelease with
    ``examples/environments/<env>/values.yaml`` appended to its ``valuesFiles`` (what the
    environment's kustomization patches into examples/gitops/flux/release) is installed by
    helm-controller, and the Deployments and StatefulSets it made carry that environment's
    replicas, images and resources: the same as ``helm template`` of the same chart and values
    (offline workspace, Dagster subchart off), and the environment file's own numbers.

    ``disableWait``: staging and prod run Cube Store, whose claims no provisioner binds here.
    """
    from floe_checks.charts.render import prepare_workspace

    url, _, _ = git_server
    source = f"floe-checks-{ENV_BRANCH}"
    namespace = f"floe-flux-{env}"
    values_file = f"examples/environments/{env}/values.yaml"
    (release,) = _example("release/helmrelease.yaml")
    release["metadata"]["namespace"] = namespace
    spec = release["spec"]
    spec["chart"]["spec"]["sourceRef"]["name"] = source
    spec["chart"]["spec"]["valuesFiles"].append(values_file)
    # the SOPS-made Secret is the SOPS test's business; here the public values alone
    del spec["valuesFrom"]
    spec["values"] = {"floe-dagster": {"dagster": {"enabled": False}}}
    spec["install"]["disableWait"] = True
    spec["upgrade"]["disableWait"] = True
    kubectl("create", "namespace", namespace)
    items = [release]
    if kubectl("get", "-n", NAMESPACE, f"gitrepository/{source}", check=False).returncode:
        items.insert(0, _git_repository(url, source, environments_branch))
    kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    )
    obj = _released(
        kube_cluster, flux, namespace, "floe-runtime", {"InstallSucceeded", "InstallFailed"}
    )
    assert flux_condition(obj).get("reason") == "InstallSucceeded", json.dumps(obj.get("status"))

    ws = prepare_workspace(tmp_path / "charts", offline=True)
    expected = _workloads(
        ws.render(
            "floe-runtime",
            [REPO / values_file],
            release="floe-runtime",
            namespace=namespace,
        )
    )
    got = _workloads(
        json.loads(
            kubectl("get", "-n", namespace, "deployments,statefulsets", "-o", "json").stdout
        )["items"]
    )
    assert got == expected
    values = yaml.safe_load((REPO / values_file).read_text(encoding="utf-8"))["floe-cube"]
    api = got["Deployment/floe-runtime-cube-api"]
    assert api["replicas"] == values["api"]["replicaCount"]
    assert (
        api["containers"]["api"]["image"]
        == f"{values['image']['repository']}:{values['image']['tag']}"
    )
    assert api["containers"]["api"]["resources"] == values["api"]["resources"]
