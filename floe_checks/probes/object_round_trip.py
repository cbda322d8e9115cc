"""The list / write / read back / delete round trip of the GCS and ADLS probes.

Read and write are reported separately, as the S3 probe does: ``read`` is the listing under the
prefix, ``write`` the upload, each ``ok``, ``denied`` (authorization), ``failed`` or
``not checked``. A probe object that cannot be deleted is a warning, not an error: the platform
works, but something is left under the prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

from floe_checks.errors import CheckFailure, FailureKind


class ObjectStore(Protocol):
    """One bucket or container, through its own client, with the per-check timeout set."""

    def list(self, prefix: str) -> None: ...

    def write(self, key: str, data: bytes) -> None: ...

    def read(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


class ReadBackMismatch(Exception):
    """The object read back differs from the one written (a proxy or a wrong endpoint)."""


def _outcome(exc: CheckFailure) -> str:
    return "denied" if exc.kind is FailureKind.AUTHORIZATION else "failed"


def round_trip(
    store: ObjectStore,
    prefix: str,
    fail: Callable[[str, Exception], CheckFailure],
) -> dict[str, object]:
    """List under ``prefix``, write a uniquely named probe object, read it back, delete it.

    Args:
        store: the bucket or container.
        prefix: where the probe object goes.
        fail: turns the exception of a step ("list", "write", "read back", "delete") into the
            probe's classified failure.

    Returns:
        ``read``, ``write``, ``delete``, ``probe_object`` and, when the delete failed,
        ``warnings``.

    Raises:
        CheckFailure: from ``fail``, with ``read``/``write``/``delete`` added to its details.
    """
    key = f"{prefix}floe-preflight-{uuid.uuid4().hex}.txt"
    payload = f"floe-checks preflight probe {key}\n".encode()
    results: dict[str, object] = {
        "read": "not checked",
        "write": "not checked",
        "delete": "not checked",
        "probe_object": key,
    }

    def failed(step: str, result: str, exc: Exception) -> CheckFailure:
        problem = fail(step, exc)
        results[result] = _outcome(problem)
        problem.details.update(results)
        return problem

    def run(step: str, result: str, action: Callable[[], object]) -> object:
        try:
            return action()
        except Exception as exc:
            raise failed(step, result, exc) from None

    run("list", "read", lambda: store.list(prefix))
    results["read"] = "ok"
    run("write", "write", lambda: store.write(key, payload))
    results["write"] = "ok"
    delete_problem: CheckFailure | None = None
    try:
        data = run("read back", "read", lambda: store.read(key))
        if data != payload:
            raise failed("read back", "read", ReadBackMismatch(f"{key}: other bytes came back"))
    finally:
        # Leave nothing behind, even when reading back failed.
        try:
            store.delete(key)
            results["delete"] = "ok"
        except Exception as exc:
            delete_problem = fail("delete", exc)
            results["delete"] = _outcome(delete_problem)
    if delete_problem is not None:
        results["warnings"] = [
            f"the probe object {key} could not be deleted: {delete_problem.remediation}"
        ]
    return results
