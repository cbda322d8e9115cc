"""The node's pins and generated configuration, without starting anything."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from floe_checks.cluster import binaries, node
from floe_checks.errors import PrerequisiteMissing

pytestmark = pytest.mark.evidence("static")

ROOT = Path(__file__).resolve().parents[2]
SETUP_STEP = ROOT / node.SETUP_STEP


def _script_var(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", SETUP_STEP.read_text(encoding="utf-8"), re.MULTILINE)
    assert match is not None, f"{SETUP_STEP} sets no {name}"
    return match.group(1)


def test_setup_step_pins_match_the_python_finder() -> None:
    assert (_script_var("PAUSE_VERSION"), _script_var("KUBE_VERSION")) == (
        node.PAUSE_VERSION,
        binaries.KUBE_VERSION,
    )


def test_missing_pieces_name_both_setup_steps(tmp_path: Path) -> None:
    paths = node.expected_node_paths(tmp_path)
    missing = [f"{name} ({path})" for name, path in paths.items() if not path.is_file()]
    # an empty cache root lacks at least the kubelet and the pause image
    assert missing[:2] == [
        f"kubelet ({tmp_path / 'kube' / binaries.KUBE_VERSION / 'bin' / 'kubelet'})",
        f"pause image ({tmp_path / 'pause' / node.PAUSE_VERSION / 'pause.tar'})",
    ]
    with pytest.raises(PrerequisiteMissing) as info:
        node.find_node_binaries(tmp_path)
    assert (str(info.value), info.value.remediation) == (
        "node pieces missing: " + ", ".join(missing),
        "run bash scripts/build-control-plane.sh (the kubelet) and bash "
        "scripts/setup.d/55-node.sh (containerd, runc, CNI plugins, the pause image)",
    )


def test_containerd_keeps_everything_in_its_folder_and_on_loopback(tmp_path: Path) -> None:
    pieces = node.NodeBinaries(
        kubelet=Path("/k"),
        containerd=Path("/c"),
        ctr=Path("/ctr"),
        runc=Path("/usr/sbin/runc"),
        cni_bin_dir=Path("/usr/lib/cni"),
        pause_tarball=Path("/p.tar"),
    )
    config = tomllib.loads(node.containerd_config(tmp_path, pieces))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    runc = cri["containerd"]["runtimes"]["runc"]["options"]
    assert (
        config["root"],
        config["state"],
        config["grpc"]["address"],
        config["ttrpc"]["address"],
        config["debug"]["address"],
        config["metrics"]["address"],
        runc["Root"],
        runc["BinaryName"],
        runc["SystemdCgroup"],
        cri["cni"]["conf_dir"],
        cri["stream_server_address"],
        cri["stream_server_port"],
        cri["netns_mounts_under_state_dir"],
        cri["restrict_oom_score_adj"],
        cri["sandbox_image"],
    ) == (
        f"{tmp_path}/root",
        f"{tmp_path}/state",
        f"{tmp_path}/containerd.sock",
        f"{tmp_path}/containerd.sock.ttrpc",
        "",
        "",
        f"{tmp_path}/runc",
        "/usr/sbin/runc",
        False,
        f"{tmp_path}/cni/net.d",
        "127.0.0.1",
        "0",
        True,
        True,
        f"localhost/floe-pause:{node.PAUSE_VERSION}",
    )


def test_the_pod_network_gives_the_host_no_address_and_no_nat(tmp_path: Path) -> None:
    plugins = node.cni_config(tmp_path, "floe-node-abc", "fnabc")["plugins"]
    assert [
        (p["type"], p["bridge"], p["isGateway"], p["ipMasq"], p["ipam"]["dataDir"]) for p in plugins
    ] == [("bridge", "fnabc", False, False, f"{tmp_path}/cni/ipam")]
