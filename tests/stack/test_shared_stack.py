"""One stack per test run, whatever xdist does: exactly one start and one teardown, and the
rules for when a stack that cannot start is a skip and when it is an error.

Each test runs pytest in a subprocess (pytester) with a recording provider in its
``conftest.py``: a test double standing for a real provider (local or kind). It records
``start``/``stop`` with the process id to a log file instead of starting services, so it
cannot check that real services come up or go away — only how often and by which process
the plugin and :class:`~floe_checks.stack.shared.SharedStack` call ``start`` and ``stop``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from floe_checks.errors import PrerequisiteMissing, StackError
from floe_checks.stack.shared import SharedStack, provider_class

RECORDING_PROVIDER = '''
"""A test double for a stack provider: records start/stop; FLOE_TEST_STACK_MODE picks a
failure (ok, missing, broken)."""
import os
import time
from pathlib import Path

from pydantic import SecretStr

from floe_checks.errors import PrerequisiteMissing, StackError
from floe_checks.stack.base import StackEndpoints


def _log(line):
    with open(os.environ["FLOE_TEST_STACK_LOG"], "a") as handle:
        handle.write(line + "\\n")


class RecordingProvider:
    name = "recording"

    def start(self, workdir):
        mode = os.environ.get("FLOE_TEST_STACK_MODE", "ok")
        _log(f"start {os.getpid()}")
        if mode == "missing":
            raise PrerequisiteMissing("the widget daemon is not running",
                                      remediation="start the widget daemon")
        if mode == "broken":
            # a real failure whose text (pod logs, say) happens to contain the old skip phrase
            raise StackError("helm install failed: image floe:1 is not available in the node")
        time.sleep(0.5)  # long enough that both workers ask for the stack meanwhile
        return StackEndpoints(provider="recording", cube_url="http://127.0.0.1:1",
                              cube_api_secret=SecretStr("s"), dagster_url="http://127.0.0.1:2")

    def stop(self):
        _log(f"stop {os.getpid()}")

    def diagnostics(self):
        return {}

    def state(self):
        return {}

    @classmethod
    def restore(cls, state):
        return cls()
'''

CONFTEST = """
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import floe_checks.stack.plugin as stack_plugin
import floe_checks.stack.shared as shared
from recording_provider import RecordingProvider

shared.PROVIDERS["recording"] = "recording_provider:RecordingProvider"
stack_plugin.make_provider = lambda config: RecordingProvider()
"""

FOUR_TESTS = """
import pytest

@pytest.mark.parametrize("i", range(4))
def test_uses_the_stack(floe_stack, i):
    assert floe_stack.cube_url == "http://127.0.0.1:1"
"""


@pytest.fixture
def stack_log(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(recording_provider=RECORDING_PROVIDER, conftest=CONFTEST)
    log = pytester.path / "stack.log"
    monkeypatch.setenv("FLOE_TEST_STACK_LOG", str(log))
    for name in ("FLOE_STACK", "FLOE_REQUIRE_STACK", "FLOE_TEST_STACK_MODE"):
        monkeypatch.delenv(name, raising=False)
    return log


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", *args)


def _events(log: Path) -> list[tuple[str, int]]:
    if not log.exists():
        return []
    return [
        (word, int(pid))
        for word, pid in (line.split() for line in log.read_text().split("\n") if line)
    ]


def test_two_workers_share_one_start_and_one_teardown(
    pytester: pytest.Pytester, stack_log: Path
) -> None:
    pytester.makepyfile(test_four=FOUR_TESTS)
    result = _run(pytester, "-n", "2")
    result.assert_outcomes(passed=4)
    events = _events(stack_log)
    assert [word for word, _ in events] == ["start", "stop"], events
    state = json.loads((pytester.path / "runpytest-0" / "floe-stack.json").read_text())
    assert state == {"users": 0}


def test_without_xdist_one_process_starts_and_stops(
    pytester: pytest.Pytester, stack_log: Path
) -> None:
    pytester.makepyfile(test_four=FOUR_TESTS)
    result = _run(pytester)
    result.assert_outcomes(passed=4)
    events = _events(stack_log)
    assert [word for word, _ in events] == ["start", "stop"]
    assert events[0][1] == events[1][1]  # the only process does both


def test_a_crashed_worker_still_gets_exactly_one_teardown(
    pytester: pytest.Pytester, stack_log: Path
) -> None:
    """The crashed worker never detaches; the controller stops the stack after the others."""
    pytester.makepyfile(
        test_crash="""
import os
import pytest

@pytest.mark.parametrize("i", range(6))
def test_uses_the_stack(floe_stack, i):
    if i == 1:
        os._exit(3)  # a worker dies without any teardown (segfault, OOM kill)
"""
    )
    result = _run(pytester, "-n", "2")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running*test_uses_the_stack[[]1[]]*"])
    events = _events(stack_log)
    assert [word for word, _ in events] == ["start", "stop"], events


def test_keep_stack_then_stop_command_stops_it_once(
    pytester: pytest.Pytester, stack_log: Path
) -> None:
    pytester.makepyfile(test_four=FOUR_TESTS)
    result = _run(pytester, "-n", "2", "--floe-keep-stack")
    result.assert_outcomes(passed=4)
    root = pytester.path / "runpytest-0"
    result.stdout.fnmatch_lines([f"*stop it: python -m floe_checks.stack.shared stop {root}"])
    assert [word for word, _ in _events(stack_log)] == ["start"]
    # the stop command in a fresh process that knows the recording provider (as a user's
    # process knows ours)
    code = (
        f"import sys; sys.path.insert(0, {str(pytester.path)!r}); "
        "import floe_checks.stack.shared as s; "
        "s.PROVIDERS['recording'] = 'recording_provider:RecordingProvider'; "
        f"raise SystemExit(s.main(['stop', {str(root)!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout) == (0, "stopped the recording stack\n")
    assert [word for word, _ in _events(stack_log)] == ["start", "stop"]
    again = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert (again.returncode, again.stdout) == (0, "nothing was running\n")


def test_default_stack_missing_a_prerequisite_skips_with_the_reason(
    pytester: pytest.Pytester, stack_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOE_TEST_STACK_MODE", "missing")
    pytester.makepyfile(test_four=FOUR_TESTS)
    result = _run(pytester, "-n", "2")
    result.assert_outcomes(skipped=4)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]4[]] *floe stack 'local': the widget daemon is not running (start the "
            "widget daemon)"
        ]
    )
    assert [word for word, _ in _events(stack_log)] == ["start"]  # tried once, not per worker


@pytest.mark.parametrize(
    ("args", "env", "ini", "why"),
    [
        (
            ("--floe-stack=kind",),
            {},
            "",
            "--floe-stack=kind was chosen explicitly (from --floe-stack)",
        ),
        (
            (),
            {"FLOE_STACK": "kind"},
            "",
            "--floe-stack=kind was chosen explicitly (from $FLOE_STACK)",
        ),
        (
            (),
            {},
            "floe_stack = local",
            "--floe-stack=local was chosen explicitly (from ini floe_stack)",
        ),
        (("--floe-require-stack",), {}, "", "--floe-require-stack is set"),
        ((), {"FLOE_REQUIRE_STACK": "1"}, "", "FLOE_REQUIRE_STACK is set"),
        ((), {}, "floe_require_stack = true", "ini floe_require_stack is set"),
    ],
    ids=["option", "env", "ini", "require-option", "require-env", "require-ini"],
)
def test_a_required_stack_that_cannot_start_is_an_error(
    pytester: pytest.Pytester,
    stack_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: dict[str, str],
    ini: str,
    why: str,
) -> None:
    monkeypatch.setenv("FLOE_TEST_STACK_MODE", "missing")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_four=FOUR_TESTS)
    # one xdist run shows the rule holds in every worker; the others run in one process
    xdist = ("-n", "2") if args == ("--floe-stack=kind",) else ()
    result = _run(pytester, *xdist, *args)
    result.assert_outcomes(errors=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    stack = "kind" if "kind" in why else "local"
    result.stdout.fnmatch_lines(
        [
            f"floe stack {stack!r}: the widget daemon is not running (start the widget daemon); "
            f"the stack must start because {why}"
        ]
    )
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_a_real_failure_is_an_error_whatever_its_text_says(
    pytester: pytest.Pytester, stack_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decided by exception class: a StackError mentioning "is not available" is no skip."""
    monkeypatch.setenv("FLOE_TEST_STACK_MODE", "broken")
    pytester.makepyfile(test_four=FOUR_TESTS)
    result = _run(pytester)
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(
        ["E *floe_checks.errors.StackError: helm install failed: image floe:1 is not available in*"]
    )


ALL_SKIP = """
import pytest

@pytest.mark.parametrize("i", range(3))
def test_needs_what_the_stack_lacks(floe_stack, i):
    pytest.skip("this stack exposes no warehouse")

def test_unrelated():
    pass
"""


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_a_required_stack_whose_every_test_skipped_fails_the_run(
    pytester: pytest.Pytester, stack_log: Path, xdist: tuple[str, ...]
) -> None:
    pytester.makepyfile(test_skips=ALL_SKIP)
    result = _run(pytester, *xdist, "--floe-stack=kind")
    result.assert_outcomes(passed=1, skipped=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "floe stack: all 3 tests that use the stack skipped, and the stack is required "
            "(--floe-stack=kind was chosen explicitly (from --floe-stack)): failing the run"
        ]
    )


def test_the_default_stack_may_skip_every_test(pytester: pytest.Pytester, stack_log: Path) -> None:
    pytester.makepyfile(test_skips=ALL_SKIP)
    result = _run(pytester, "-n", "2")
    result.assert_outcomes(passed=1, skipped=3)
    assert result.ret == pytest.ExitCode.OK


def test_one_test_that_ran_satisfies_a_required_stack(
    pytester: pytest.Pytester, stack_log: Path
) -> None:
    pytester.makepyfile(
        test_skips=ALL_SKIP + "\ndef test_runs(floe_stack):\n    pass\n",
    )
    result = _run(pytester, "--floe-require-stack")
    result.assert_outcomes(passed=2, skipped=3)
    assert result.ret == pytest.ExitCode.OK


# -- SharedStack as plain Python ---------------------------------------------------------------


def test_provider_that_cannot_be_imported_is_a_missing_prerequisite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import floe_checks.stack.shared as shared

    monkeypatch.setitem(shared.PROVIDERS, "ghost", "floe_checks.stack.no_such_module:Ghost")
    with pytest.raises(PrerequisiteMissing) as info:
        provider_class("ghost")
    assert info.value.message == (
        "stack provider 'ghost' cannot be loaded (floe_checks.stack.no_such_module:Ghost: "
        "No module named 'floe_checks.stack.no_such_module')"
    )


def test_teardown_of_a_stack_that_cannot_be_restored_says_so(tmp_path: Path) -> None:
    import floe_checks.stack.shared as shared

    shared.PROVIDERS["norestore"] = "floe_checks.stack.base:StackEndpoints"
    try:
        stack = SharedStack(tmp_path)
        stack.write({"provider": "norestore", "users": 0})
        with pytest.raises(StackError) as info:
            stack.teardown()
        assert info.value.message == (
            f"the norestore stack recorded in {tmp_path / 'floe-stack.json'} cannot be "
            "stopped from this process (its provider has no restore())"
        )
        assert stack.read() == {"provider": "norestore", "users": 0}  # kept for another try
    finally:
        del shared.PROVIDERS["norestore"]


def test_stop_command_on_a_folder_without_state(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "floe_checks.stack.shared", "stop", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert (proc.returncode, proc.stdout) == (
        2,
        f"error: {tmp_path / 'floe-stack.json'} does not exist: nothing to stop there\n",
    )
