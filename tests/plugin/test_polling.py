"""``wait_until`` (floe_checks/polling.py), the one deadline-polling loop (issue 18.3).

A fake clock and a fake sleep make each schedule exact: which checks ran, which pauses were
taken, and that no pause ends past the deadline.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from floe_checks.polling import wait_until

PACKAGE = Path(__file__).resolve().parents[2] / "floe_checks"

# The loops that poll without wait_until, and why (each says so at the loop, too).
OWN_LOOPS = {
    "clients/cube.py": "each request's own timeout is the time left until the one deadline",
}


class FakeTime:
    """A clock that moves only when something sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_returns_the_first_truthy_result_after_backing_off() -> None:
    fake = FakeTime()
    answers = iter(["", "", "", "ready"])
    result = wait_until(
        lambda: next(answers),
        timeout=10,
        interval=1.0,
        factor=2.0,
        max_interval=3.0,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert result == "ready"
    assert fake.pauses == [1.0, 2.0, 3.0]


def test_time_out_returns_the_last_result_and_never_sleeps_past_the_deadline() -> None:
    fake = FakeTime()
    calls: list[float] = []

    def never() -> list[int]:
        calls.append(fake.now)
        return []

    result = wait_until(never, timeout=5, interval=2.0, clock=fake.clock, sleep=fake.sleep)
    assert result == []
    # checks at 0, 2 and 4 s; a fourth pause would end at 6 s, past the 5 s deadline
    assert calls == [100.0, 102.0, 104.0]
    assert fake.pauses == [2.0, 2.0]


def test_a_check_runs_once_even_without_time() -> None:
    fake = FakeTime()
    assert wait_until(lambda: 0, timeout=0, clock=fake.clock, sleep=fake.sleep) == 0
    assert fake.pauses == []


def test_an_exception_of_the_check_stops_the_wait() -> None:
    fake = FakeTime()

    def died() -> bool:
        raise RuntimeError("server died")

    with pytest.raises(RuntimeError, match="server died"):
        wait_until(died, timeout=10, clock=fake.clock, sleep=fake.sleep)
    assert fake.pauses == []


def test_the_real_clock_by_default() -> None:
    flips = iter([False, True])
    assert wait_until(lambda: next(flips), timeout=5, interval=0.01) is True


def _sleeping_modules() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "sleep")
                or (isinstance(node.func, ast.Name) and node.func.id == "sleep")
            )
            for node in ast.walk(tree)
        ):
            found.append(str(path.relative_to(PACKAGE)))
    return found


def test_every_other_polling_loop_goes_through_wait_until() -> None:
    """Only polling.py sleeps, and the loops listed in OWN_LOOPS (with their reason)."""
    assert _sleeping_modules() == sorted(["polling.py", *OWN_LOOPS])
