"""The deployment docs: they exist, say what they must, and every command, floe.yaml example
and link in them works against this repository (007-FR-021 to FR-024).

Commands are parsed, not run: ``floe`` by the CLI's own argparse parser, ``pytest`` by
pytest's own option parser with every plugin and the repository's ini loaded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.config import validate_environment
from floe_checks.examples import (
    Problem,
    code_blocks,
    doc_command_problems,
    doc_files,
    floe_command_problem,
    heading_anchors,
    link_problems,
    pytest_command_problem,
    shown_commands,
)

pytestmark = [pytest.mark.charts, pytest.mark.evidence("static")]

COMPUTE_TARGETS = ("trino", "snowflake", "bigquery", "duckdb")
DEPLOYMENT_VIEW = Path("docs/06-deployment-view.md")
PROVISIONING = Path("docs/07-infrastructure-provisioning.md")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _labelled_blocks(markdown: Path, label: str) -> list[str]:
    """YAML blocks whose first line is the comment ``# <label>``."""
    return [
        b.text
        for b in code_blocks(markdown)
        if b.lang == "yaml" and b.text.lstrip().startswith(f"# {label}")
    ]


def _validate_floe_yaml(text: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for var in set(_VAR.findall(text)):
        monkeypatch.setenv(var, f"example-{var.lower()}")
    raw = yaml.safe_load(text)
    envs = {}
    for name, env in raw["environments"].items():
        envs[name] = validate_environment("doc", name, env)
    return envs


@pytest.mark.requirement("007-FR-021")
def test_deployment_view_shows_metadata_flow_in_mermaid(repo_root: Path) -> None:
    doc = repo_root / DEPLOYMENT_VIEW
    diagrams = [b.text for b in code_blocks(doc) if b.lang == "mermaid"]
    assert len(diagrams) == 3
    flow = diagrams[0]
    # CompiledArtifacts -> ConfigMap -> Dagster and dbt, in that order of edges.
    assert "artifacts -- " in flow
    assert "--> cm" in flow
    assert re.search(r"cm -- .*--> codeserver", flow)
    assert re.search(r"cm -- .*--> runpod", flow)
    assert "runpod --> dbt" in flow
    anchors = heading_anchors(doc)
    assert {"from-metadata-to-running-pipelines", "what-runs-where"} <= anchors


@pytest.mark.requirement("007-FR-021", "007-FR-007")
def test_deployment_view_names_the_chart_configmap_and_mount(repo_root: Path) -> None:
    """The ConfigMap name and mount path the doc states are the chart's own defaults."""
    text = (repo_root / DEPLOYMENT_VIEW).read_text()
    values = yaml.safe_load((repo_root / "charts/floe-dagster/values.yaml").read_text())
    artifacts = values["compiledArtifacts"]
    assert f"`{artifacts['configMapName']}`" in text
    assert f"`{artifacts['mountPath']}`" in text
    env = values["dagster"]["dagster-user-deployments"]["deployments"][0]["env"]
    pointer = next(e["value"] for e in env if e["name"] == "FLOE_COMPILED_ARTIFACTS")
    assert f"FLOE_COMPILED_ARTIFACTS={pointer}" in text


@pytest.mark.requirement("007-FR-022", "007-FR-023")
def test_provisioning_separates_deployed_from_provisioned(repo_root: Path) -> None:
    doc = repo_root / PROVISIONING
    text = doc.read_text()
    anchors = heading_anchors(doc)
    assert "what-the-platform-deploys-and-what-you-provision" in anchors
    table = text.split("## What the platform deploys and what you provision", 1)[1]
    header = table.strip().splitlines()[0]
    assert header == (
        "| | The platform deploys (Helm charts, GitOps) | You provision (before the first deploy) |"
    )
    for section in (
        "object-storage",
        "iceberg-catalog",
        "compute",
        "postgresql-for-dagster",
        "observability",
    ):
        assert section in anchors


@pytest.mark.requirement("007-FR-022")
def test_provisioning_names_the_preflight_check_for_each_service(repo_root: Path) -> None:
    doc = repo_root / PROVISIONING
    sections = re.split(r"^## ", doc.read_text(), flags=re.MULTILINE)
    checks = {}
    for section in sections:
        title = section.splitlines()[0]
        flags = set(re.findall(r"floe preflight --env prod (--check-\w+)", section))
        if flags:
            checks[title] = flags
    assert checks == {
        "Object storage": {"--check-storage"},
        "Iceberg catalog": {"--check-catalog"},
        "Compute": {"--check-compute"},
        "PostgreSQL for Dagster": {"--check-postgres"},
        # What the platform deployed, checked after the deploy.
        "After provisioning": {"--check-cube"},
    }


@pytest.mark.requirement("007-FR-022", "007-FR-024", "SC-004")
def test_every_floe_yaml_example_in_the_docs_validates(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated = {}
    for markdown in doc_files(repo_root):
        for index, text in enumerate(_labelled_blocks(markdown, "floe.yaml")):
            envs = _validate_floe_yaml(text, monkeypatch)
            validated[f"{markdown.relative_to(repo_root)}#{index}"] = sorted(
                key for env in envs.values() for key in env.sections()
            )
    # Every labelled block validated above (a ConfigError fails the test); these are ours.
    ours = {
        "docs/07-infrastructure-provisioning.md#0": ["storage"],
        "docs/07-infrastructure-provisioning.md#1": ["catalog"],
        "docs/07-infrastructure-provisioning.md#2": ["postgres"],
        "docs/compute/bigquery.md#0": ["compute"],
        "docs/compute/duckdb.md#0": ["compute"],
        "docs/compute/snowflake.md#0": ["compute"],
        "docs/compute/trino.md#0": ["compute"],
    }
    assert {key: validated.get(key) for key in ours} == ours


@pytest.mark.requirement("007-FR-024", "SC-007")
@pytest.mark.parametrize("target", COMPUTE_TARGETS)
def test_compute_worked_example(
    target: str, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = repo_root / "docs/compute" / f"{target}.md"
    (floe_yaml,) = _labelled_blocks(doc, "floe.yaml")
    (env,) = _validate_floe_yaml(floe_yaml, monkeypatch).values()
    assert env.compute is not None
    assert env.compute.type == target

    (profile_text,) = _labelled_blocks(doc, "profiles.yml")
    profile = yaml.safe_load(profile_text)["floe"]
    output = profile["outputs"][profile["target"]]
    assert output["type"] == target
    for key in ("password", "keyfile", "private_key_passphrase", "token"):
        if key in output:
            assert re.fullmatch(r"\{\{ env_var\('[A-Z_]+'\) \}\}", output[key]), key

    (cube_text,) = _labelled_blocks(doc, "Cube")
    cube = yaml.safe_load(cube_text)
    assert cube["CUBEJS_DB_TYPE"] == target
    for key, value in cube.items():
        if re.search(r"(PASS|SECRET|TOKEN|KEY_FILE|KEY_ID|ACCESS_KEY)", key):
            assert re.fullmatch(r"\$\{[A-Z_]+\}", str(value)), key
    # Secrets in floe.yaml are ${VAR} references only (the model refuses literals).
    assert all(v.isupper() for v in _VAR.findall(floe_yaml))


@pytest.mark.requirement("007-FR-021", "007-FR-022", "007-FR-024")
def test_every_floe_and_pytest_command_in_the_docs_is_accepted(repo_root: Path) -> None:
    files = doc_files(repo_root)
    shown = [cmd for f in files for cmd in shown_commands(f)]
    programs = {program for _, program, _ in shown}
    assert programs == {"floe", "pytest"}
    assert doc_command_problems(files, repo_root) == []


@pytest.mark.requirement("007-FR-021", "007-FR-022")
def test_refused_commands_are_reported(tmp_path: Path, repo_root: Path) -> None:
    doc = tmp_path / "bad.md"
    doc.write_text(
        "```bash\n"
        "floe preflight --env prod --check-everything\n"
        "floe deploy\n"
        "pytest --floe-enviroment=prod -m preflight\n"
        "pytest tests/no_such_dir\n"
        "FLOE_ENV=prod pytest -m preflight\n"
        "```\n"
    )
    problems = doc_command_problems([doc], repo_root)
    assert [p.file.rsplit(":", 1)[1] for p in problems] == ["2", "3", "4", "5"]
    assert "unrecognized arguments: --check-everything" in problems[0].message
    assert "invalid choice: 'deploy'" in problems[1].message
    assert "--floe-enviroment=prod" in problems[2].message
    assert problems[3].message.endswith("test path 'tests/no_such_dir' does not exist")


@pytest.mark.requirement("007-FR-021")
def test_command_parsers_accept_valid_and_refuse_invalid_arguments(repo_root: Path) -> None:
    assert pytest_command_problem(["-m", "charts", "tests/examples"], repo_root) is None
    assert pytest_command_problem(["--no-such-option"], repo_root) == (
        "pytest: error: unrecognized arguments: --no-such-option"
    )
    assert floe_command_problem(["--version"]) is None
    problem = floe_command_problem(["no-such-command"])
    assert problem is not None
    assert problem.startswith("floe: error: argument COMMAND: invalid choice: 'no-such-command'")


@pytest.mark.requirement("007-FR-021", "007-FR-022", "007-FR-024")
def test_relative_links_in_the_docs_resolve(repo_root: Path) -> None:
    files = doc_files(repo_root)
    assert {repo_root / DEPLOYMENT_VIEW, repo_root / PROVISIONING} <= set(files)
    assert link_problems(files, repo_root) == []


@pytest.mark.requirement("007-FR-021")
def test_broken_links_are_reported(tmp_path: Path, repo_root: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "other.md").write_text("# Real heading\n")
    page = docs / "page.md"
    page.write_text(
        "[ok](other.md#real-heading) [gone](missing.md) [anchor](other.md#no-such)\n"
        "[web](https://example.com/x) `[code](ignored.md)`\n"
    )
    assert link_problems([page], tmp_path) == [
        Problem("docs/page.md", "link 'missing.md' does not resolve"),
        Problem("docs/page.md", "link 'other.md#no-such': no heading #no-such"),
    ]


@pytest.mark.requirement("007-FR-021")
def test_usage_synopses_are_not_taken_for_commands(tmp_path: Path) -> None:
    doc = tmp_path / "usage.md"
    doc.write_text(
        "```\nfloe preflight [--env NAME] [--all | --check-compute]\n"
        "floe preflight --env prod\n```\n"
    )
    assert shown_commands(doc) == [(3, "floe", ["preflight", "--env", "prod"])]
