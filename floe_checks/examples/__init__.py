"""Checks of the GitOps, secrets and environment examples under ``examples/`` and of the docs.

Plain Python, no pytest: every check takes paths and returns a list of :class:`Problem` (an
empty list means the check passed), so the same functions serve the acceptance tests in
``tests/examples/``, the negative tests that run them on broken copies, and a user's own
script or pre-commit hook. What they prove:

* every YAML file parses and every GitOps object uses the current ``apiVersion`` for its kind
  (:data:`API_VERSIONS`) — :mod:`.manifests`;
* referential integrity: each path, chart, values file, ``GitRepository`` and ``dependsOn``
  name an ArgoCD or Flux example names exists in the repository and matches — :mod:`.gitops`;
* secrets: each environment's build produces the Secrets its release reads, values hold no
  literal credential, the SOPS file is really encrypted, and a ``detect-secrets`` scan finds
  nothing beyond the baseline (SC-004) — :mod:`.secrets`;
* the docs only show ``floe`` and ``pytest`` commands the CLIs accept, and their relative
  links resolve — :mod:`.docs`.

Importing this package is cheap (yaml only); detect-secrets, kubectl and pytest's own parser
are used inside the checks that need them.
"""

from __future__ import annotations

from floe_checks.examples.docs import (
    CodeBlock,
    code_blocks,
    doc_command_problems,
    doc_files,
    floe_command_problem,
    heading_anchors,
    link_problems,
    pytest_command_problem,
    shown_commands,
)
from floe_checks.examples.gitops import (
    application_problems,
    applicationset_params,
    applicationset_problems,
    argocd_problems,
    find_kubectl,
    flux_problems,
    kustomization_dirs,
    kustomize_build,
)
from floe_checks.examples.manifests import (
    API_VERSIONS,
    ENVIRONMENTS,
    GOVERNED_GROUPS,
    REPO_URL,
    UMBRELLA_CHART,
    Problem,
    api_version_problems,
    load_documents,
    yaml_files,
    yaml_problems,
)
from floe_checks.examples.secrets import (
    EXAMPLE_CIPHERTEXT_FILES,
    SECRET_NAME_PATTERNS,
    baseline_scope_problems,
    detect_secrets_problems,
    is_age_recipient,
    plaintext_secret_problems,
    produced_secret_names,
    required_secret_names,
    sops_problems,
    store_problems,
    tracked_files,
)

__all__ = [
    "API_VERSIONS",
    "ENVIRONMENTS",
    "EXAMPLE_CIPHERTEXT_FILES",
    "GOVERNED_GROUPS",
    "REPO_URL",
    "SECRET_NAME_PATTERNS",
    "UMBRELLA_CHART",
    "CodeBlock",
    "Problem",
    "api_version_problems",
    "application_problems",
    "applicationset_params",
    "applicationset_problems",
    "argocd_problems",
    "baseline_scope_problems",
    "code_blocks",
    "detect_secrets_problems",
    "doc_command_problems",
    "doc_files",
    "find_kubectl",
    "floe_command_problem",
    "flux_problems",
    "heading_anchors",
    "is_age_recipient",
    "kustomization_dirs",
    "kustomize_build",
    "link_problems",
    "load_documents",
    "plaintext_secret_problems",
    "produced_secret_names",
    "pytest_command_problem",
    "required_secret_names",
    "shown_commands",
    "sops_problems",
    "store_problems",
    "tracked_files",
    "yaml_files",
    "yaml_problems",
]
