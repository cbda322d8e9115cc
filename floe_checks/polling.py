"""Deadline polling, once: :func:`wait_until` calls a check until it holds or time runs out.

Every wait of floe-checks that polls (a server getting ready, a process group going away, a
Dagster run finishing, a file the controller writes) goes through here, so the backoff and the
deadline arithmetic are written once. The check decides what "ready" means and may raise to
stop early (a server that died); the caller decides what a timeout means (its own error).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.1,
    factor: float = 1.0,
    max_interval: float = math.inf,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Call ``check`` until it returns a truthy value or ``timeout`` seconds have passed.

    ``check`` runs at least once, then again after each pause; no pause ends past the
    deadline. The pause starts at ``interval`` and grows by ``factor`` up to ``max_interval``.

    Args:
        check: returns something truthy when the wait is over; exceptions propagate.
        timeout: seconds from now until the deadline.
        interval: the first pause, in seconds.
        factor: each pause is the previous one times this (1: a fixed interval).
        max_interval: the longest pause.
        clock: the monotonic clock (tests pass a fake one).
        sleep: how to pause (tests pass a fake one).

    Returns:
        The first truthy result of ``check``, or its last (falsy) result when time ran out.
    """
    deadline = clock() + timeout
    delay = interval
    while True:
        result = check()
        if result or clock() + delay > deadline:
            return result
        sleep(delay)
        delay = min(delay * factor, max_interval)
