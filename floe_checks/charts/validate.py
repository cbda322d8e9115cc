"""Schema validation of rendered objects for every Kubernetes version we support.

kubernetes-validate ships the OpenAPI schemas of Kubernetes 1.25-1.37 and validates offline;
``strict`` rejects unknown fields. It only *warns* when it has no schema for an apiVersion/kind,
which would let a typo'd apiVersion through, so here a missing schema is a problem — except for
the custom resources we know (External Secrets, Argo CD, Flux, Sealed Secrets), which get our
own minimal structural checks of apiVersion, kind and required fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from floe_checks.charts.objects import ref

# Every minor from our charts' floor (kubeVersion ">=1.29.0-0") up to the one the cluster tests
# build and run (floe_checks.cluster.binaries.KUBE_VERSION, 1.37): tests/cluster/
# test_crds_on_cluster.py fails when the built version is not among these.
K8S_VERSIONS: tuple[str, ...] = tuple(f"1.{minor}.0" for minor in range(29, 38))


def _require(obj: dict[str, Any], dotted: str) -> str | None:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node or node[part] in (None, "", [], {}):
            return f"{ref(obj)}: required field {dotted} is missing"
        node = node[part]
    return None


def check_external_secret(obj: dict[str, Any]) -> list[str]:
    """external-secrets.io/v1 ExternalSecret: a store reference, a target and at least one key."""
    problems = [
        p
        for p in (
            _require(obj, "metadata.name"),
            _require(obj, "spec.secretStoreRef.name"),
            _require(obj, "spec.target.name"),
        )
        if p
    ]
    spec = obj.get("spec") or {}
    store_kind = (spec.get("secretStoreRef") or {}).get("kind", "SecretStore")
    if store_kind not in ("SecretStore", "ClusterSecretStore"):
        problems.append(f"{ref(obj)}: spec.secretStoreRef.kind {store_kind!r} is not a store kind")
    data, data_from = spec.get("data") or [], spec.get("dataFrom") or []
    if not data and not data_from:
        problems.append(f"{ref(obj)}: spec.data and spec.dataFrom are both empty")
    for i, item in enumerate(data):
        if not item.get("secretKey") or not (item.get("remoteRef") or {}).get("key"):
            problems.append(f"{ref(obj)}: spec.data[{i}] needs secretKey and remoteRef.key")
    return problems


def _check_named_spec(*fields: str) -> Callable[[dict[str, Any]], list[str]]:
    def check(obj: dict[str, Any]) -> list[str]:
        return [p for p in (_require(obj, f) for f in ("metadata.name", *fields)) if p]

    return check


# (apiVersion, kind) → our structural check, for CRDs kubernetes-validate has no schema for.
CUSTOM_RESOURCES: dict[tuple[str, str], Callable[[dict[str, Any]], list[str]]] = {
    ("external-secrets.io/v1", "ExternalSecret"): check_external_secret,
    ("external-secrets.io/v1", "SecretStore"): _check_named_spec("spec.provider"),
    ("external-secrets.io/v1", "ClusterSecretStore"): _check_named_spec("spec.provider"),
    ("argoproj.io/v1alpha1", "Application"): _check_named_spec("spec.source", "spec.destination"),
    ("argoproj.io/v1alpha1", "ApplicationSet"): _check_named_spec(
        "spec.generators", "spec.template"
    ),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"): _check_named_spec("spec.chart"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): _check_named_spec("spec.sourceRef"),
    ("source.toolkit.fluxcd.io/v1", "HelmRepository"): _check_named_spec("spec.url"),
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): _check_named_spec("spec.url"),
    ("bitnami.com/v1alpha1", "SealedSecret"): _check_named_spec("spec.encryptedData"),
}


def validate_objects(
    objects: Iterable[dict[str, Any]],
    versions: Sequence[str] = K8S_VERSIONS,
    *,
    strict: bool = True,
) -> list[str]:
    """Validate every object for every version; returns one line per problem.

    A known custom resource gets its structural check once; any other object without a
    schema ("Couldn't find schema …") is a problem, not a warning.
    """
    import kubernetes_validate  # a few hundred ms: only when validating
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    problems: list[str] = []
    for obj in objects:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        if key in CUSTOM_RESOURCES:
            problems += CUSTOM_RESOURCES[key](obj)
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(obj, version, strict=strict)
            except ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                problems.append(f"{ref(obj)} (k8s {version}): {path}: {exc.message}")
            except SchemaNotFoundError as exc:
                problems.append(f"{ref(obj)}: {exc.message}")
                break
    return problems
