"""The Flux build pins agree: scripts/build-flux.sh, tools/flux/go.mod, cluster/flux.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from floe_checks.cluster import binaries, flux
from floe_checks.errors import PrerequisiteMissing

pytestmark = [pytest.mark.evidence("static"), pytest.mark.requirement("FC-003")]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build-flux.sh"
FLUX_MOD = ROOT / "tools" / "flux" / "go.mod"
KUBE_MOD = ROOT / "tools" / "kube" / "go.mod"


def _script_var(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", SCRIPT.read_text(encoding="utf-8"), re.MULTILINE)
    assert match is not None, f"{SCRIPT} sets no {name}"
    return match.group(1)


def test_script_versions_match_the_python_finder() -> None:
    assert {
        "source-controller": _script_var("SOURCE_CONTROLLER_VERSION"),
        "kustomize-controller": _script_var("KUSTOMIZE_CONTROLLER_VERSION"),
        "helm-controller": _script_var("HELM_CONTROLLER_VERSION"),
    } == flux.CONTROLLER_VERSIONS


def test_go_mod_requires_each_controller_as_a_tool_at_the_pinned_version() -> None:
    text = FLUX_MOD.read_text(encoding="utf-8")
    for name, version in flux.CONTROLLER_VERSIONS.items():
        assert re.findall(
            rf"^\tgithub\.com/fluxcd/{name} (\S+) // indirect$", text, re.MULTILINE
        ) == [version]
    tools = re.search(r"^tool \(\n(.*?)^\)", text, re.MULTILINE | re.DOTALL)
    assert tools is not None
    assert [t for t in tools.group(1).split() if "fluxcd" in t] == [
        f"github.com/fluxcd/{name}" for name in sorted(flux.CONTROLLER_VERSIONS)
    ]


def test_go_mod_compiles_against_the_control_planes_k8s_packages() -> None:
    """The same k8s.io replaces as tools/kube: the kube build's compiled packages are reused."""

    def replaces(path: Path) -> list[tuple[str, str]]:
        text = path.read_text(encoding="utf-8")
        return re.findall(r"^\t(k8s\.io/\S+) => k8s\.io/\S+ (\S+)$", text, re.MULTILINE)

    assert replaces(FLUX_MOD) == replaces(KUBE_MOD)
    published = "v0." + binaries.KUBE_VERSION.removeprefix("v1.")
    assert {version for _, version in replaces(FLUX_MOD)} == {published}


def test_missing_controllers_name_the_setup_step(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing) as info:
        flux.find_controllers(tmp_path)
    assert str(info.value) == (
        "Flux controllers not built: "
        f"source-controller ({tmp_path}/source-controller/v1.9.6/bin/source-controller), "
        f"kustomize-controller ({tmp_path}/kustomize-controller/v1.9.6/bin/kustomize-controller), "
        f"helm-controller ({tmp_path}/helm-controller/v1.6.4/bin/helm-controller)"
    )
    assert info.value.remediation == (
        "run bash scripts/build-flux.sh (builds them from the Go module proxy, cached; "
        "scripts/setup.sh runs it)"
    )


def test_sops_tools_are_pinned_alike_and_built_from_the_module_graph() -> None:
    """sops and age-keygen: the script's versions are the finder's and the ones go.mod already
    requires for kustomize-controller (so the build adds no module, only their commands)."""
    assert {
        "sops": ("sops", _script_var("SOPS_VERSION")),
        "age-keygen": ("age", _script_var("AGE_VERSION")),
    } == flux.TOOL_VERSIONS
    text = FLUX_MOD.read_text(encoding="utf-8")
    for module, (_, version) in (
        ("github.com/getsops/sops/v3", flux.TOOL_VERSIONS["sops"]),
        ("filippo.io/age", flux.TOOL_VERSIONS["age-keygen"]),
    ):
        assert re.findall(rf"^\t{re.escape(module)} (\S+) // indirect$", text, re.MULTILINE) == [
            version
        ]
    tools = re.search(r"^tool \(\n(.*?)^\)", text, re.MULTILINE | re.DOTALL)
    assert tools is not None
    listed = tools.group(1).split()
    assert "github.com/getsops/sops/v3/cmd/sops" in listed
    assert "filippo.io/age/cmd/age-keygen" in listed


def test_missing_sops_tools_name_the_setup_step(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing) as info:
        flux.find_tools(tmp_path)
    assert str(info.value) == (
        "SOPS tools not built: "
        f"sops ({tmp_path}/sops/v3.13.2/bin/sops), "
        f"age-keygen ({tmp_path}/age/v1.3.1/bin/age-keygen)"
    )
    assert info.value.remediation == (
        "run bash scripts/build-flux.sh (builds them with the Flux controllers, cached)"
    )


def test_crd_pins_of_fc002_are_the_versions_that_run() -> None:
    """The Flux CRDs the examples are judged by (71-crds.pins) are the built controllers'."""
    from floe_checks.cluster.crds import read_pins

    pinned = {
        pin.project.removeprefix("flux-"): pin.version
        for pin in read_pins()
        if pin.project.startswith("flux-")
    }
    assert pinned == flux.CONTROLLER_VERSIONS
