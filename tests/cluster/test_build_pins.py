"""The build pins agree: script, Go module and the Python that finds the binaries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from floe_checks.cluster import binaries
from floe_checks.errors import PrerequisiteMissing

pytestmark = pytest.mark.evidence("static")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / binaries.SETUP_STEP
GO_MOD = ROOT / "tools" / "kube" / "go.mod"


def _script_var(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", SCRIPT.read_text(encoding="utf-8"), re.MULTILINE)
    assert match is not None, f"{SCRIPT} sets no {name}"
    return match.group(1)


def test_script_versions_match_the_python_finder() -> None:
    assert _script_var("KUBE_VERSION") == binaries.KUBE_VERSION
    assert _script_var("KWOK_VERSION") == binaries.KWOK_VERSION
    assert _script_var("ETCD_VERSION") == binaries.ETCD_VERSION


def test_go_mod_requires_kubernetes_and_replaces_staging_with_the_same_minor() -> None:
    text = GO_MOD.read_text(encoding="utf-8")
    # go mod tidy lists it among the indirect requirements (only the `tool` lines import it)
    assert re.findall(r"^\tk8s\.io/kubernetes (\S+) // indirect$", text, re.MULTILINE) == [
        binaries.KUBE_VERSION
    ]
    replaces = re.findall(r"^\t(k8s\.io/\S+) => (k8s\.io/\S+) (\S+)$", text, re.MULTILINE)
    # the 31 staging modules k8s.io/kubernetes v1.37.2 requires at v0.0.0
    assert len(replaces) == 31
    published = "v0." + binaries.KUBE_VERSION.removeprefix("v1.")
    assert {(old == new, version) for old, new, version in replaces} == {(True, published)}


def test_kwok_is_a_tool_of_the_same_module_at_the_pinned_version() -> None:
    """kwok and the kubelet build in the same ``go build`` as the servers, against the same
    k8s.io packages."""
    text = GO_MOD.read_text(encoding="utf-8")
    assert re.findall(r"^\tsigs\.k8s\.io/kwok (\S+) // indirect$", text, re.MULTILINE) == [
        binaries.KWOK_VERSION
    ]
    tools = re.search(r"^tool \(\n(.*?)^\)", text, re.MULTILINE | re.DOTALL)
    assert tools is not None
    assert tools.group(1).split() == [
        "k8s.io/kubernetes/cmd/kube-apiserver",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-scheduler",
        "k8s.io/kubernetes/cmd/kubelet",
        "sigs.k8s.io/kwok/cmd/kwok",
    ]


def test_missing_binaries_name_the_setup_step(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing) as info:
        binaries.find_binaries(tmp_path)
    assert str(info.value) == "control-plane binaries not built: " + ", ".join(
        f"{name} ({path})" for name, path in binaries.expected_paths(tmp_path).items()
    )
    assert info.value.remediation == (
        f"run bash {binaries.SETUP_STEP} (builds them from the Go module proxy, cached)"
    )


def test_build_without_go_stops_naming_the_component_command_and_fix(tmp_path: Path) -> None:
    import subprocess

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "build-control-plane: kube-apiserver failed: go (not found on PATH)",
        "build-control-plane: fix: install Go >= 1.26 (the machine image ships "
        "/usr/local/go/bin/go; add it to PATH)",
    ]
