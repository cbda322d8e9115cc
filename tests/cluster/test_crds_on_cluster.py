"""Every GitOps and secrets manifest we ship, judged by the API server with the operators' CRDs.

The CRDs come from each project's own Go module at a pinned version (scripts/setup.d/71-crds.sh,
pins in scripts/setup.d/71-crds.pins): External Secrets Operator, Sealed Secrets, Argo CD and
Flux. They are installed on the session control plane; then every object under ``examples/``,
every kustomization there as ``kubectl kustomize`` builds it, and the ExternalSecrets our charts
render are sent with ``kubectl apply --dry-run=server --validate=strict``: the API server
decodes each one strictly (an unknown field is an error, not a warning) and checks it against
the CRD's OpenAPI schema. Nothing is stored and no controller runs (FC-003 is about that).

Which YAML is not an object (floe_checks.cluster.crds.skip_reason): Helm values files, SOPS's
``.sops.yaml``, kustomize's own ``kustomization.yaml`` (apiVersion kustomize.config.k8s.io,
read by kustomize, never sent to an API server) and SOPS-encrypted files. The encrypted
``values.enc.yaml`` is checked in the shape the API server receives it: the kustomize build of
examples/secrets/sops and of each environment turns it into the Secret
``floe-runtime-private-values`` (key ``values.yaml``), which is applied like every other built
object. Its content stays the ciphertext here: decrypting needs the age private key, which
is not in the repository (the example key is a placeholder); the decrypted text is Helm
values, which the API server never looks into.

Then one broken copy of each kind proves that the API server, not a client, rejects: an
unknown field ``spec.xyz`` (strict decoding) and a value of the wrong type (the CRD schema).
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.charts.helm import Helm
from floe_checks.charts.render import ChartWorkspace, prepare_workspace
from floe_checks.cluster.crds import example_documents, find_crds, read_pins, skip_reason
from floe_checks.errors import PrerequisiteMissing
from floe_checks.examples.gitops import kustomize_build
from tests.cluster.conftest import Kubectl

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.requirement("FC-002", "007-FR-011", "007-FR-012", "007-FR-014"),
    # the tests on the control plane derive api-server from floe_cluster; the pin checks are static
    pytest.mark.evidence("static"),
]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SCRIPT = REPO / "scripts" / "setup.d" / "71-crds.sh"
# Namespaced objects the examples leave without a namespace (an environment's kustomization
# sets it) are sent into this one.
DEFAULT_NAMESPACE = "floe-examples"
# The namespaces the examples name, created for real so a dry-run create in them is admitted.
CLUSTER_SCOPED = {"Namespace", "ClusterSecretStore"}
NAMESPACES = ("argocd", "flux-system", "floe-dev", "floe-staging", "floe-prod", DEFAULT_NAMESPACE)

# The CRDs the pins must install: written out, not derived from the pins file.
EXPECTED_CRDS = {
    "externalsecrets.external-secrets.io": "external-secrets.io/v1",
    "secretstores.external-secrets.io": "external-secrets.io/v1",
    "clustersecretstores.external-secrets.io": "external-secrets.io/v1",
    "sealedsecrets.bitnami.com": "bitnami.com/v1alpha1",
    "applications.argoproj.io": "argoproj.io/v1alpha1",
    "applicationsets.argoproj.io": "argoproj.io/v1alpha1",
    "appprojects.argoproj.io": "argoproj.io/v1alpha1",
    "gitrepositories.source.toolkit.fluxcd.io": "source.toolkit.fluxcd.io/v1",
    "helmrepositories.source.toolkit.fluxcd.io": "source.toolkit.fluxcd.io/v1",
    "helmreleases.helm.toolkit.fluxcd.io": "helm.toolkit.fluxcd.io/v2",
    "kustomizations.kustomize.toolkit.fluxcd.io": "kustomize.toolkit.fluxcd.io/v1",
}


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _objects() -> list[tuple[str, dict[str, Any]]]:
    """(test id, object) of every Kubernetes object under examples/."""
    out = []
    for path, index, doc in example_documents(EXAMPLES):
        if skip_reason(doc) is None:
            out.append((f"{_rel(path)}#{index}-{doc['kind']}-{doc['metadata']['name']}", doc))
    return out


OBJECTS = _objects()
KUSTOMIZATIONS = sorted(_rel(p.parent) for p in EXAMPLES.rglob("kustomization.yaml"))


@pytest.fixture(scope="module")
def crd_files() -> list[Path]:
    try:
        return find_crds()
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc} — {exc.remediation}")


@pytest.fixture(scope="module")
def crds(kubectl: Kubectl, crd_files: list[Path]) -> dict[str, dict[str, Any]]:
    """The pinned CRDs installed and Established; their objects as the API server returns them.

    Server-side apply: the Argo CD ApplicationSet CRD (1.4 MB) and the External Secrets stores
    (0.5 MB) do not fit the 256 kB ``last-applied-configuration`` annotation of a client-side
    apply.
    """
    args = ["apply", "--server-side", "--force-conflicts", "--field-manager=floe-checks"]
    for path in crd_files:
        args += ["-f", str(path)]
    kubectl(*args, timeout=180)
    names = sorted(yaml.safe_load(p.read_text())["metadata"]["name"] for p in crd_files)
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=120s",
        *[f"crd/{n}" for n in names],
        timeout=150,
    )
    for namespace in NAMESPACES:
        manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    listed = json.loads(kubectl("get", "crd", "-o", "json", *names).stdout)
    return {item["metadata"]["name"]: item for item in listed["items"]}


def _dry_run(
    kubectl: Kubectl, obj: dict[str, Any] | list[dict[str, Any]], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``kubectl apply --dry-run=server --validate=strict`` of one object or several.

    Sent as a stream of documents, never as a ``v1 List``: the API server has no List
    resource, so for a List kubectl falls back to its own client-side OpenAPI validation
    (``error validating data: ValidationError(Application.spec): unknown field "xyz"``, checked)
    and the API server's strict decoding is never asked.
    """
    items = copy.deepcopy(obj if isinstance(obj, list) else [obj])
    for item in items:
        if item["kind"] not in CLUSTER_SCOPED:
            item["metadata"].setdefault("namespace", DEFAULT_NAMESPACE)
    payload = "\n---\n".join(json.dumps(item) for item in items)
    return kubectl(
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "-o",
        "json",
        "-f",
        "-",
        stdin=payload,
        check=check,
    )


def _accepted(result: subprocess.CompletedProcess[str]) -> list[str]:
    out = json.loads(result.stdout)
    items = out["items"] if out.get("kind") == "List" else [out]
    return [f"{o['kind']}/{o['metadata']['name']}" for o in items]


def test_the_pinned_crds_are_established_and_serve_the_versions_the_examples_use(
    crds: dict[str, dict[str, Any]],
) -> None:
    assert sorted(crds) == sorted(EXPECTED_CRDS)
    for name, api_version in EXPECTED_CRDS.items():
        crd = crds[name]
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions["Established"] == "True", name
        group, version = api_version.split("/")
        assert crd["spec"]["group"] == group
        served = [v["name"] for v in crd["spec"]["versions"] if v["served"]]
        assert version in served, (name, served)


def test_every_pin_has_a_cached_file_with_its_sha256(crd_files: list[Path]) -> None:
    import hashlib

    pins = read_pins()
    assert [p.name for p in crd_files] == [Path(pin.path).name for pin in pins]
    for path, pin in zip(crd_files, pins, strict=True):
        assert path.parts[-3:-1] == (pin.project, pin.version)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == pin.sha256


def test_the_skip_rule_leaves_out_exactly_the_non_objects() -> None:
    skipped = {
        _rel(path): reason
        for path, _index, doc in example_documents(EXAMPLES)
        if (reason := skip_reason(doc)) is not None
    }
    values = "no apiVersion/kind: Helm values or tool configuration, not an object"
    kustomize = "kustomize.config.k8s.io/v1beta1 Kustomization: a build configuration for kustomize"
    expected = {f"{k}/kustomization.yaml": kustomize for k in KUSTOMIZATIONS}
    expected |= {
        f"examples/environments/{env}/values.yaml": values for env in ("dev", "prod", "staging")
    }
    expected["examples/secrets/sops/.sops.yaml"] = values
    expected["examples/secrets/sops/values.enc.yaml"] = (
        "SOPS-encrypted data (a Secret's content once decrypted), not an object"
    )
    assert skipped == expected
    # and every object file is an object of a kind this module installs a CRD for, or core
    kinds = sorted({(o["apiVersion"], o["kind"]) for _id, o in OBJECTS})
    assert kinds == [
        ("argoproj.io/v1alpha1", "Application"),
        ("argoproj.io/v1alpha1", "ApplicationSet"),
        ("bitnami.com/v1alpha1", "SealedSecret"),
        ("external-secrets.io/v1", "ClusterSecretStore"),
        ("external-secrets.io/v1", "ExternalSecret"),
        ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        ("source.toolkit.fluxcd.io/v1", "GitRepository"),
        ("v1", "Namespace"),
    ]


# The API server warns about a finalizer name without a path. Argo CD's docs (app_deletion.md,
# v3.5.7) still show the bare `resources-finalizer.argocd.argoproj.io` as the default; the same
# foreground cascade is `resources-finalizer.argocd.argoproj.io/foreground`, which Argo CD
# v3.5.7 also reads (Application.CascadedDeletion) and the API server does not warn about.
ARGOCD_FINALIZER_WARNING = (
    'Warning: metadata.finalizers: "resources-finalizer.argocd.argoproj.io": prefer a '
    "domain-qualified finalizer name including a path (/) to avoid accidental conflicts with "
    "other finalizer writers\n"
)


def _expected_warnings(obj: dict[str, Any]) -> str:
    bare = "resources-finalizer.argocd.argoproj.io" in obj["metadata"].get("finalizers", [])
    return ARGOCD_FINALIZER_WARNING if bare else ""


@pytest.mark.parametrize(("obj_id", "obj"), OBJECTS, ids=[i for i, _o in OBJECTS])
def test_every_example_object_is_accepted_by_the_api_server(
    obj_id: str, obj: dict[str, Any], crds: dict[str, dict[str, Any]], kubectl: Kubectl
) -> None:
    result = _dry_run(kubectl, obj, check=False)
    assert result.returncode == 0, f"{obj_id} rejected:\n{result.stderr}"
    assert _accepted(result) == [f"{obj['kind']}/{obj['metadata']['name']}"]
    # no warning either (a deprecated version, a field the server would drop, …), except the
    # one the API server gives Argo CD's documented default finalizer
    assert result.stderr == _expected_warnings(obj)


@pytest.mark.parametrize("folder", KUSTOMIZATIONS)
def test_every_kustomization_builds_and_its_objects_are_accepted(
    folder: str, crds: dict[str, dict[str, Any]], kubectl: Kubectl
) -> None:
    objects = kustomize_build(REPO / folder, str(kubectl.binary))
    result = _dry_run(kubectl, objects, check=False)
    assert result.returncode == 0, f"kubectl kustomize {folder} | apply rejected:\n{result.stderr}"
    assert result.stderr == ""
    assert _accepted(result) == [f"{o['kind']}/{o['metadata']['name']}" for o in objects]


def test_the_environments_get_their_namespace_values_and_the_sops_secret(
    crds: dict[str, dict[str, Any]], kubectl: Kubectl
) -> None:
    """What the environment kustomizations are for, checked on what kustomize built."""
    expected_secrets = {
        "dev": ("SealedSecret", "floe-postgresql"),
        "staging": ("ExternalSecret", "floe-postgresql"),
        "prod": ("ExternalSecret", "floe-postgresql"),
    }
    sops_text = (EXAMPLES / "secrets" / "sops" / "values.enc.yaml").read_text()
    for env, (secret_kind, secret_name) in expected_secrets.items():
        objects = kustomize_build(EXAMPLES / "environments" / env, str(kubectl.binary))
        namespaced = [o for o in objects if o["kind"] != "Namespace"]
        assert {o["metadata"]["namespace"] for o in namespaced} == {f"floe-{env}"}
        release = next(o for o in objects if o["kind"] == "HelmRelease")
        assert release["spec"]["chart"]["spec"]["valuesFiles"] == [
            "charts/floe-runtime/values.yaml",
            f"examples/environments/{env}/values.yaml",
        ]
        assert any(
            o["kind"] == secret_kind and o["metadata"]["name"] == secret_name for o in objects
        )
        sops_secret = next(
            o
            for o in objects
            if o["kind"] == "Secret" and o["metadata"]["name"] == "floe-runtime-private-values"
        )
        import base64

        assert base64.b64decode(sops_secret["data"]["values.yaml"]).decode() == sops_text


@pytest.fixture(scope="module")
def chart_workspace(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> ChartWorkspace:
    return prepare_workspace(
        tmp_path_factory.mktemp("crd-charts") / "charts", helm=helm, offline=True
    )


def test_the_external_secrets_our_charts_render_are_accepted(
    chart_workspace: ChartWorkspace,
    crds: dict[str, dict[str, Any]],
    kubectl: Kubectl,
    tmp_path: Path,
) -> None:
    ci_values = chart_workspace.chart_path("floe-dagster") / "ci" / "external-secrets-values.yaml"
    # the same values through the umbrella chart, nested under its subchart's key
    umbrella_values = tmp_path / "umbrella-external-secrets.yaml"
    umbrella_values.write_text(
        yaml.safe_dump({"floe-dagster": yaml.safe_load(ci_values.read_text())})
    )
    for chart, values in (("floe-dagster", ci_values), ("floe-runtime", umbrella_values)):
        rendered = chart_workspace.render(chart, [values], namespace=DEFAULT_NAMESPACE)
        external = [o for o in rendered if o["kind"] == "ExternalSecret"]
        # the two entries of charts/floe-dagster/ci/external-secrets-values.yaml
        assert sorted(o["metadata"]["name"] for o in external) == [
            "floe-postgresql",
            "floe-warehouse",
        ], chart
        result = _dry_run(kubectl, external, check=False)
        assert result.returncode == 0, f"{chart}: {result.stderr}"
        assert sorted(_accepted(result)) == [
            "ExternalSecret/floe-postgresql",
            "ExternalSecret/floe-warehouse",
        ]


def _example(kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(o for _i, o in OBJECTS if o["kind"] == kind))


HELM_REPOSITORY = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "HelmRepository",
    "metadata": {"name": "dagster", "namespace": "flux-system"},
    "spec": {"interval": "1h", "url": "https://dagster-io.github.io/helm"},
}


def _with(obj: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(obj)
    node = broken
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return broken


# kind → (a valid object, a field of the CRD schema, a value of the wrong type, its JSON type,
# the type the schema wants)
WRONG_TYPES: dict[str, tuple[str, Any, str, str]] = {
    "ExternalSecret": ("spec.data", "floe/prod/postgresql", "string", "array"),
    "ClusterSecretStore": ("spec.provider", "aws", "string", "object"),
    "SealedSecret": ("spec.encryptedData", ["AgDE"], "array", "object"),
    "Application": ("spec.syncPolicy.retry.limit", "five", "string", "integer"),
    "ApplicationSet": ("spec.goTemplate", "yes", "string", "boolean"),
    "GitRepository": ("spec.ref", "main", "string", "object"),
    "HelmRepository": ("spec.suspend", "no", "string", "boolean"),
    "HelmRelease": ("spec.install.remediation.retries", "three", "string", "integer"),
    "Kustomization": ("spec.prune", "yes", "string", "boolean"),
}


def _valid(kind: str) -> dict[str, Any]:
    return copy.deepcopy(HELM_REPOSITORY) if kind == "HelmRepository" else _example(kind)


def test_the_helm_repository_fixture_is_accepted(
    crds: dict[str, dict[str, Any]], kubectl: Kubectl
) -> None:
    """No example uses a HelmRepository; the valid one the broken copies start from is sound."""
    assert _accepted(_dry_run(kubectl, HELM_REPOSITORY)) == ["HelmRepository/dagster"]


@pytest.mark.parametrize("kind", sorted(WRONG_TYPES))
def test_an_unknown_field_is_rejected_by_strict_decoding(
    kind: str, crds: dict[str, dict[str, Any]], kubectl: Kubectl
) -> None:
    broken = _with(_valid(kind), "spec.xyz", "surplus")
    result = _dry_run(kubectl, broken, check=False)
    assert result.returncode == 1, result.stdout
    assert 'strict decoding error: unknown field "spec.xyz"' in result.stderr, result.stderr
    version = broken["apiVersion"].split("/")[1]
    assert f'{kind} in version "{version}" cannot be handled as a {kind}' in result.stderr


@pytest.mark.parametrize("kind", sorted(WRONG_TYPES))
def test_a_wrong_type_is_rejected_by_the_crd_schema(
    kind: str, crds: dict[str, dict[str, Any]], kubectl: Kubectl
) -> None:
    field, value, got, want = WRONG_TYPES[kind]
    broken = _with(_valid(kind), field, value)
    result = _dry_run(kubectl, broken, check=False)
    assert result.returncode == 1, result.stdout
    name = broken["metadata"]["name"]
    assert f'The {kind} "{name}" is invalid' in result.stderr, result.stderr
    assert f'{field}: Invalid value: "{got}": {field} in body must be of type {want}: "{got}"' in (
        result.stderr
    ), result.stderr


# -- kubernetes-validate covers the version we build (issue 12, "Tests" 7) -------------------


def test_kubernetes_validate_versions_include_the_built_kubernetes() -> None:
    """The offline schema check (floe_checks.charts.validate) runs for the minor we build."""
    import kubernetes_validate
    from kubernetes_validate.utils import all_versions

    from floe_checks.charts.validate import K8S_VERSIONS
    from floe_checks.cluster.binaries import KUBE_VERSION

    major, minor, _patch = KUBE_VERSION.removeprefix("v").split(".")
    built = f"{major}.{minor}.0"
    assert built in K8S_VERSIONS, (KUBE_VERSION, K8S_VERSIONS)
    # the charts' kubeVersion floor (>=1.29.0-0) up to the built minor, no gap
    assert tuple(f"1.{m}.0" for m in range(29, int(minor) + 1)) == K8S_VERSIONS
    # the installed kubernetes-validate ships every one of them (else it only warns)
    shipped = set(all_versions())
    assert [v for v in K8S_VERSIONS if v not in shipped] == []
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    for version in K8S_VERSIONS:
        # it answers with the schema version it used: that version's own, not a fallback
        used = kubernetes_validate.validate(namespace, version, strict=True)
        assert used == version.removesuffix(".0")


def test_kubernetes_validate_is_pinned_to_the_built_minor() -> None:
    from floe_checks.cluster.binaries import KUBE_VERSION

    minor = ".".join(KUBE_VERSION.removeprefix("v").split(".")[:2])
    pins = [
        line
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if line.startswith("kubernetes-validate==")
    ]
    assert pins == [f"kubernetes-validate=={minor}.0"]


# -- the setup step's failures name the component, the command and the fix -------------------


def _run_setup(
    tmp_path: Path, pins: str, path_env: str | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    pins_file = tmp_path / "pins"
    pins_file.write_text(pins)
    env = dict(os.environ, FLOE_CRDS_PINS=str(pins_file), XDG_CACHE_HOME=str(tmp_path / "cache"))
    if path_env is not None:
        env["PATH"] = path_env
    return subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120, check=False
    )


SEALED = next(pin for pin in read_pins() if pin.project == "sealed-secrets")


def test_setup_without_go_names_the_component_and_the_fix(tmp_path: Path) -> None:
    line = f"{SEALED.project} {SEALED.version} {SEALED.module} {SEALED.path} {SEALED.sha256}\n"
    result = _run_setup(tmp_path, line, path_env="/usr/bin:/bin")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "setup: crds: sealed-secrets v0.40.0 CRD bitnami.com_sealedsecrets.yaml failed: "
        "go (not found on PATH)",
        "setup: crds: fix: install Go >= 1.26 (the machine image ships /usr/local/go/bin/go; "
        "add it to PATH)",
    ]


def test_setup_refuses_a_file_that_is_not_the_pinned_one(
    tmp_path: Path, crd_files: list[Path]
) -> None:
    """crd_files: the module is in Go's cache already, so this needs no network."""
    wrong = "0" * 64
    line = f"{SEALED.project} {SEALED.version} {SEALED.module} {SEALED.path} {wrong}\n"
    result = _run_setup(tmp_path, line)
    assert result.returncode == 1
    first, fix = result.stderr.splitlines()
    assert first.startswith(
        "setup: crds: sealed-secrets v0.40.0 CRD bitnami.com_sealedsecrets.yaml failed: sha256sum "
    )
    assert first.endswith("@v0.40.0/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml")
    assert fix == (
        f"setup: crds: fix: the file is not the pinned one (got {SEALED.sha256}); "
        f"check the pin in {tmp_path / 'pins'}"
    )
    assert not (tmp_path / "cache" / "floe-checks" / "crds").exists()


# -- the helper's own failures ----------------------------------------------------------------


def test_find_crds_names_each_missing_or_changed_file_and_the_setup_step(tmp_path: Path) -> None:
    first, second = read_pins()[:2]
    pins = tmp_path / "pins"
    pins.write_text(
        "# two pins\n"
        + "".join(
            f"{p.project} {p.version} {p.module} {p.path} {p.sha256}\n" for p in (first, second)
        )
    )
    changed = second.cached_path(tmp_path)
    changed.parent.mkdir(parents=True)
    changed.write_text("kind: CustomResourceDefinition\n")
    with pytest.raises(PrerequisiteMissing) as caught:
        find_crds(tmp_path, pins)
    assert caught.value.message == (
        f"operator CRDs not in the cache: external-secrets v0.16.2 "
        f"({first.cached_path(tmp_path)}), external-secrets v0.16.2 ({changed}: sha256 is not "
        f"the pinned one)"
    )
    assert caught.value.remediation == (
        "run bash scripts/setup.d/71-crds.sh (needs Go and the Go module proxy once)"
    )


def test_a_malformed_pin_line_names_the_file_and_line(tmp_path: Path) -> None:
    pins = tmp_path / "pins"
    pins.write_text("# header\nargo-cd v3.5.7 github.com/argoproj/argo-cd/v3\n")
    with pytest.raises(ValueError, match=r"pins:2: expected 'project version module path sha256'"):
        read_pins(pins)
