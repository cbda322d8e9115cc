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
    kube_cluster: Any, namespace: str, keys: list[str], timeout: int, diagnose: Any = None
) -> dict[str, dict[str, Any]]:
    """Wait with pytest-helm-charts until every ``kind/name`` in ``keys`` runs; return them.

    A workload that is missing fails at once (``missing_ok=False``: helm has already created
    everything it renders). Their Deployment wait does not look at ``status.replicas``, which
    still counts an old ReplicaSet's pods right after a rollout; a second pass of their generic
    ``wait_for_objects_condition`` waits until those are gone too, so read-backs see one
    generation only. On timeout the test fails with ``diagnose()``'s text (the namespace's pods
    and events) when given.
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
            detail = f"\n{diagnose()}" if diagnose is not None else ""
            pytest.fail(f"{kind}s {names} in {namespace} not running after {timeout} s{detail}")
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
