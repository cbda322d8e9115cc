"""The bundled preflight checks: one test per service configured in the selected environment.

Collected whenever an environment is selected (``pytest --floe-env=prod -m preflight``). A
service that is not configured gets no test at all. Each test reports the result of its
service's probe (:func:`floe_checks.preflight.plugin.check_service`; without xdist all checks
run at once before the first test reports); a failure fails the test with the SPEC's one
human line (``[CATALOG] ERROR: … Remediation: …``) and nothing else.
"""

from __future__ import annotations

import pytest

from floe_checks.config import Environment
from floe_checks.preflight.plugin import check_service, preflight_options, record_result
from floe_checks.results import Status
from floe_checks.session import selected_environment

# Requirement IDs per service (floe_checks/requirements.yaml); every check also proves these.
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "compute": ("007-FR-016",),
    "storage": ("007-FR-017",),
    "catalog": ("007-FR-018",),
    "postgres": ("007-FR-019",),
    "cube": (),
    "dagster": (),
}
EVERY_CHECK = ("007-FR-020", "SC-003")

pytestmark = pytest.mark.preflight


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "floe_service" not in metafunc.fixturenames:
        return
    env = selected_environment(metafunc.config)
    wanted = preflight_options(metafunc.config).services
    names = [n for n in (env.sections() if env else {}) if not wanted or n in wanted]
    metafunc.parametrize(
        "floe_service",
        [
            pytest.param(
                name,
                id=name,
                marks=pytest.mark.requirement(*REQUIREMENTS.get(name, ()), *EVERY_CHECK),
            )
            for name in names
        ],
    )


def test_preflight(
    floe_service: str, floe_env: Environment, request: pytest.FixtureRequest
) -> None:
    """Run the probe of one configured service; fail with its human line."""
    section = floe_env.sections().get(floe_service)
    if section is None:
        pytest.skip(f"{floe_service} is not configured in the floe_env fixture's environment")
    result = check_service(request.config, floe_service, section)
    record_result(request.node, result)
    if result.status == Status.ERROR.value:
        pytest.fail(result.line(), pytrace=False)
