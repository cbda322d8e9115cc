"""One stack for every pytest-xdist worker: a file lock and a 0600 JSON state file.

Layout under pytest's shared temp root (the controller's ``basetemp``)::

    floe-stack.lock      serialises start, attach/detach and teardown
    floe-stack.json      provider, endpoints (with the run's secrets), provider state,
                         attached worker count, results of shared data steps
    floe-data.lock       held by a test while it changes or reads the stack's data exactly
    floe-stack/          the provider's workdir (logs, databases, DAGSTER_HOME, ...)

Each test process attaches at session start and detaches at session end; the one that
detaches last tears the stack down by the PIDs in the state (another process may have
started it). The xdist controller, which always finishes after its workers, stops whatever a
crashed or interrupted worker left behind. Run ``python -m floe_checks.stack.shared stop
DIR`` to stop a stack kept with ``--floe-keep-stack``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

from floe_checks.errors import (
    FloeError,
    PrerequisiteMissing,
    StackError,
    StackNotStoppable,
    StackProviderUnavailable,
    UnknownStackProvider,
)
from floe_checks.stack.base import StackEndpoints, StackProvider

STATE_FILE = "floe-stack.json"
LOCK_FILE = "floe-stack.lock"
DATA_LOCK_FILE = "floe-data.lock"
WORKDIR = "floe-stack"

# provider name → "module:Class" (the kind module comes with the charts work)
PROVIDERS = {
    "local": "floe_checks.stack.local:LocalProvider",
    "kind": "floe_checks.stack.kind:KindProvider",
    "existing": "floe_checks.stack.existing:ExistingProvider",
}


def provider_class(name: str) -> type[StackProvider]:
    """The provider class registered for ``name``.

    Raises:
        StackError: unknown name.
        PrerequisiteMissing: its module cannot be imported (a missing extra).
    """
    if name not in PROVIDERS:
        raise UnknownStackProvider(f"unknown stack provider {name!r}", known=", ".join(PROVIDERS))
    module_name, class_name = PROVIDERS[name].split(":")
    try:
        module = importlib.import_module(module_name)
        cls: type[StackProvider] = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise StackProviderUnavailable(
            f"stack provider {name!r} cannot be loaded ({module_name}:{class_name}: {exc})"
        ) from exc
    return cls


class SharedStack:
    """The state file and locks of one test session's stack (plain Python, no pytest)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_path = root / STATE_FILE
        self.workdir = root / WORKDIR
        self._lock = FileLock(str(root / LOCK_FILE), timeout=900)
        self._data_lock = FileLock(str(root / DATA_LOCK_FILE), timeout=900)
        self.started_here: StackProvider | None = None

    # -- state file ------------------------------------------------------------------------

    def read(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8"))
        return data

    def write(self, state: dict[str, Any]) -> None:
        """Write atomically, readable by the owner only (it holds the run's secrets)."""
        tmp = self.state_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.state_path)

    # -- lifecycle -------------------------------------------------------------------------

    def attach(self) -> None:
        """Count this process as a user of the stack (at session start)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            state = self.read()
            state["users"] = int(state.get("users", 0)) + 1
            self.write(state)

    def endpoints(self, make_provider: Callable[[], StackProvider]) -> StackEndpoints:
        """The running stack's endpoints, starting it first if no process has yet.

        A failed start is remembered, so other workers fail fast with the same message.
        """
        with self._lock:
            state = self.read()
            if "endpoints" in state:
                return StackEndpoints.from_json(state["endpoints"])
            if "error" in state:
                error = state["error"]
                # the same kind of error as in the process that tried, so a missing
                # prerequisite is a skip in every worker
                cls = PrerequisiteMissing if error["missing"] else StackError
                raise cls(error["message"], remediation=error["remediation"])
            provider = make_provider()
            try:
                endpoints = provider.start(self.workdir)
            except BaseException as exc:
                # the same message in every process, so identical skips/errors group together
                message = exc.message if isinstance(exc, FloeError) else repr(exc)
                state["error"] = {
                    "message": message,
                    "missing": isinstance(exc, PrerequisiteMissing),
                    "remediation": getattr(exc, "remediation", ""),
                }
                self.write(state)
                raise
            self.started_here = provider
            state.update(
                {
                    "provider": provider.name,
                    "endpoints": endpoints.to_json(),
                    "provider_state": _provider_state(provider),
                    "pid": os.getpid(),
                }
            )
            self.write(state)
            return endpoints

    def provider(self) -> StackProvider | None:
        """A provider for the running stack, restored from the state when another process
        started it (None when nothing runs or the provider cannot be restored)."""
        if self.started_here is not None:
            return self.started_here
        state = self.read()
        if "provider" not in state:
            return None
        cls = provider_class(state["provider"])
        restore = getattr(cls, "restore", None)
        if restore is None:
            return None
        provider: StackProvider = restore(state.get("provider_state") or {})
        return provider

    def detach(self) -> bool:
        """Uncount this process; True when it was the last one (it must tear down)."""
        with self._lock:
            state = self.read()
            users = max(int(state.get("users", 1)) - 1, 0)
            state["users"] = users
            self.write(state)
            return users == 0

    def teardown(self) -> str | None:
        """Stop the stack by its recorded state and forget it.

        Returns:
            The name of the provider that was stopped, None when nothing was running.

        Raises:
            StackError: the recorded provider cannot be restored in this process, so its
                stack cannot be stopped from here (the state is kept for another try).
        """
        with self._lock:
            provider = self.provider()
            state = self.read()
            name = state.get("provider")
            if name is None:
                self.started_here = None
                return None
            if provider is None:
                raise StackNotStoppable(
                    f"the {name} stack recorded in {self.state_path} cannot be stopped from "
                    "this process (its provider has no restore())"
                )
            provider.stop()
            for key in ("provider", "endpoints", "provider_state", "pid"):
                state.pop(key, None)
            self.write(state)
            self.started_here = None
            return str(name)

    # -- data steps ------------------------------------------------------------------------

    @contextlib.contextmanager
    def data_lock(self) -> Iterator[None]:
        """Hold while changing the stack's data, or reading it for exact comparisons."""
        with self._data_lock:
            yield

    def once(self, name: str, step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``step`` once for the whole session (under the data lock); others get its
        recorded JSON result. A failed step is recorded and re-raised everywhere."""
        with self._data_lock:
            with self._lock:
                done = self.read().get("steps", {}).get(name)
            if done is not None:
                if "error" in done:
                    raise StackError(f"shared step {name!r} failed earlier: {done['error']}")
                result: dict[str, Any] = done["result"]
                return result
            record: dict[str, Any] = {"error": "interrupted"}
            try:
                result = step()
                record = {"result": result}
            except Exception as exc:
                record = {"error": f"{type(exc).__name__}: {exc}"}
                raise
            finally:
                with self._lock:
                    state = self.read()
                    state.setdefault("steps", {})[name] = record
                    self.write(state)
            return result


def _provider_state(provider: StackProvider) -> dict[str, Any]:
    state = getattr(provider, "state", None)
    if state is None:
        return {}
    data: dict[str, Any] = state()
    return data


def main(argv: list[str] | None = None) -> int:
    """``python -m floe_checks.stack.shared stop DIR``: stop a kept stack."""
    parser = argparse.ArgumentParser(description="Stop a floe stack kept with --floe-keep-stack")
    parser.add_argument("action", choices=["stop"])
    parser.add_argument("root", type=Path, help="the directory holding floe-stack.json")
    args = parser.parse_args(argv)
    shared = SharedStack(args.root)
    if not shared.state_path.is_file():
        print(f"error: {shared.state_path} does not exist: nothing to stop there")
        return 2
    try:
        stopped = shared.teardown()
    except FloeError as exc:
        print(f"error: {exc.message}\nFix: {exc.remediation}")
        return 1
    print(f"stopped the {stopped} stack" if stopped else "nothing was running")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
