"""The chart tests' view of the control plane, through pytest-helm-charts (issue 22).

Namespaces, workload waits and read-backs go through pytest-helm-charts' ``kube_cluster`` (a
pykube client on the control plane's admin kubeconfig, see ``kube_config`` in conftest.py) and
its waits, ``wait_for_deployments_to_run`` and ``wait_for_stateful_sets_to_run``: a Deployment
counts as running when its ``observedGeneration`` caught up and every replica is updated and
available, so the same wait serves an install, an upgrade and a rollback. The tests wait for
exactly the workloads ``helm template`` rendered for the release (by name), not for whatever
happens to be in the namespace.

Namespaces come from their ``ensure_namespace_exists``, not their ``namespace_factory``
fixture: the factory deletes every namespace at module teardown and waits up to 120 s for the
namespace controller to finish, for a control plane that is thrown away at session end anyway.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest


def restricted_namespace(kube_cluster: Any, name: str) -> str:
    """Create ``name`` enforcing the Pod Security Standard ``restricted``; returns it."""
    from pytest_helm_charts.k8s.namespace import ensure_namespace_exists

    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    _, created = ensure_namespace_exists(
        kube_cluster.kube_client, name, extra_metadata={"labels": labels}
    )
    if not created:
        pytest.fail(f"namespace {name} already exists: two tests use the same name")
    return name


def workload_keys(rendered: list[dict[str, Any]]) -> list[str]:
    """``kind/name`` (kind lower case) of every Deployment and StatefulSet in a render."""
    return sorted(
        f"{o['kind'].lower()}/{o['metadata']['name']}"
        for o in rendered
        if o.get("kind") in ("Deployment", "StatefulSet")
    )


def workloads(kube_cluster: Any, namespace: str) -> dict[str, dict[str, Any]]:
    """Every Deployment and StatefulSet of ``namespace`` as the API server holds it, by key."""
    import pykube

    out: dict[str, dict[str, Any]] = {}
    for kind in (pykube.Deployment, pykube.StatefulSet):
        for obj in kind.objects(kube_cluster.kube_client).filter(namespace=namespace):
            # items of a list carry no kind/apiVersion of their own
            out[f"{obj.kind.lower()}/{obj.name}"] = {
                **obj.obj,
                "kind": obj.kind,
                "apiVersion": obj.version,
            }
    return out


def wait_for_workloads(
    kube_cluster: Any, namespace: str, keys: list[str], timeout: int
) -> dict[str, dict[str, Any]]:
    """Wait with pytest-helm-charts until every ``kind/name`` in ``keys`` runs; return them.

    A workload that is missing fails at once (``missing_ok=False``: helm has already created
    everything it renders). Their Deployment wait does not look at ``status.replicas``, which
    still counts an old ReplicaSet's pods right after a rollout; a second pass of their generic
    ``wait_for_objects_condition`` waits until those are gone too, so read-backs see one
    generation only. On timeout the test fails with the namespace's pods and events
    (:func:`namespace_report`).
    """
    import pykube
    from pytest_helm_charts.k8s.deployment import wait_for_deployments_to_run
    from pytest_helm_charts.k8s.stateful_set import wait_for_stateful_sets_to_run
    from pytest_helm_charts.utils import wait_for_objects_condition

    def settled(namespace: str, names: list[str], timeout: int) -> list[Any]:
        objs: list[Any] = wait_for_objects_condition(
            client,
            pykube.Deployment,
            names,
            namespace,
            lambda d: d.obj.get("status", {}).get("replicas") == d.replicas,
            timeout,
            missing_ok=False,
        )
        return objs

    client = kube_cluster.kube_client
    found: dict[str, dict[str, Any]] = {}
    waits = (
        ("deployment", wait_for_deployments_to_run),
        ("statefulset", wait_for_stateful_sets_to_run),
    )
    for kind, wait in waits:
        names = [k.split("/", 1)[1] for k in keys if k.startswith(f"{kind}/")]
        if not names:
            continue
        try:
            objs = wait(client, names, namespace, timeout, missing_ok=False)
            if kind == "deployment":
                objs = settled(namespace, names, timeout)
        except TimeoutError:
            report = namespace_report(kube_cluster, namespace)
            pytest.fail(f"{kind}s {names} in {namespace} not running after {timeout} s\n{report}")
        found.update({f"{kind}/{o.name}": o.obj for o in objs})
    return found


def create_volumes(kube_cluster: Any, prefix: str, count: int) -> None:
    """``count`` static PersistentVolumes ``<prefix>-<i>`` for the claims of our StatefulSets.

    The control plane has no storage provisioner; a claim binds to any of these (both access
    modes, 1 Ti). kwok runs no container, so the hostPath is never mounted.
    """
    import pykube

    for i in range(count):
        pykube.PersistentVolume(
            kube_cluster.kube_client,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"{prefix}-{i}"},
                "spec": {
                    "capacity": {"storage": "1Ti"},
                    "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": f"/nonexistent/{prefix}-{i}"},
                },
            },
        ).create()


def namespace_report(kube_cluster: Any, namespace: str) -> str:
    """The pods (phase, node, ready) and the last events of ``namespace``: what a failed wait
    prints, so that a timeout in CI says which pod or controller was stuck."""
    import pykube

    client = kube_cluster.kube_client
    lines = ["pods:"]
    for pod in pykube.Pod.objects(client).filter(namespace=namespace):
        status = pod.obj.get("status", {})
        ready = [c.get("ready") for c in status.get("containerStatuses", [])]
        node = pod.obj["spec"].get("nodeName", "-")
        lines.append(f"  {pod.name} {status.get('phase')} node={node} ready={ready}")
    events = sorted(
        pykube.Event.objects(client).filter(namespace=namespace),
        key=lambda e: e.obj.get("lastTimestamp") or e.obj.get("eventTime") or "",
    )
    lines.append("events (last 30):")
    for event in events[-30:]:
        o = event.obj
        what = f"{o['involvedObject'].get('kind')}/{o['involvedObject'].get('name')}"
        lines.append(f"  {o.get('type')} {o.get('reason')} {what}: {o.get('message')}")
    return "\n".join(lines)


def _flux_kind(kind: str) -> Any:
    """pytest-helm-charts' pykube class for a Flux kind; HelmChart, which it has no class for,
    is declared here the same way."""
    from pytest_helm_charts.flux.git_repository import GitRepositoryCR
    from pytest_helm_charts.flux.helm_release import HelmReleaseCR
    from pytest_helm_charts.flux.kustomization import KustomizationCR
    from pytest_helm_charts.flux.utils import NamespacedFluxCR

    class HelmChart(NamespacedFluxCR):  # type: ignore[misc]
        version = "source.toolkit.fluxcd.io/v1"
        endpoint = "helmcharts"
        kind = "HelmChart"

    kinds = {
        "GitRepository": GitRepositoryCR,
        "Kustomization": KustomizationCR,
        "HelmRelease": HelmReleaseCR,
        "HelmChart": HelmChart,
    }
    return kinds[kind]


def flux_condition(obj: dict[str, Any], kind: str = "Ready") -> dict[str, Any]:
    """The status condition ``kind`` of a Flux object (``{}`` when it has none yet).

    pytest-helm-charts' ``flux_cr_ready`` reads only ``conditions[0]``; Flux 2.9 writes
    Reconciling and Stalled next to Ready, in no fixed order, so conditions are found by type.
    """
    for cond in obj.get("status", {}).get("conditions", []):
        if cond["type"] == kind:
            return dict(cond)
    return {}


def flux_ready(obj: dict[str, Any]) -> bool:
    """Ready=True for the object's current generation (not a Ready left from the last one)."""
    status = obj.get("status", {})
    return bool(
        flux_condition(obj).get("status") == "True"
        and status.get("observedGeneration") == obj["metadata"].get("generation")
    )


def wait_for_flux(
    kube_cluster: Any,
    kind: str,
    name: str,
    namespace: str,
    done: Callable[[dict[str, Any]], bool] = flux_ready,
    *,
    timeout: int = 300,
    alive: Callable[[], None] | None = None,
    context: Callable[[], str] | None = None,
) -> dict[str, Any]:
    """Wait with pytest-helm-charts' ``wait_for_objects_condition`` until the Flux object
    ``kind/name`` passes ``done``; return it as the API server holds it.

    Their Flux waits (``wait_for_helm_releases_to_be_ready`` and friends) decide on
    ``conditions[0]`` alone and accept a Ready of an older generation, so the condition is ours
    (:func:`flux_ready` by default); the polling, the missing-object handling and the timeout
    are theirs. ``alive`` runs on every poll (the controllers' liveness: a crashed controller
    fails the test at once instead of at the timeout). The default timeout is SC-002's five
    minutes; on timeout the test fails with the object's last status and ``context()``.
    """
    from pytest_helm_charts.utils import wait_for_objects_condition

    last: dict[str, Any] = {}

    def check(obj: Any) -> bool:
        if alive is not None:
            alive()
        last.clear()
        last.update(obj.obj)
        return done(obj.obj)

    client = kube_cluster.kube_client
    try:
        (found,) = wait_for_objects_condition(
            client, _flux_kind(kind), [name], namespace, check, timeout, missing_ok=True
        )
    except TimeoutError:
        seen = json.dumps(last.get("status"), indent=1) if last else "never created"
        extra = f"\n{context()}" if context is not None else ""
        pytest.fail(f"{kind} {namespace}/{name} not done after {timeout} s; status: {seen}{extra}")
    return dict(found.obj)


def flux_status(kube_cluster: Any, kind: str, name: str, namespace: str) -> str:
    """The status of a Flux object as indented JSON, or ``not found``: a failure's context."""
    import pykube

    cls = _flux_kind(kind)
    try:
        obj = cls.objects(kube_cluster.kube_client).filter(namespace=namespace).get_by_name(name)
    except pykube.exceptions.ObjectDoesNotExist:
        return "not found"
    return json.dumps(obj.obj.get("status"), indent=1)
