"""Evidence of a release that did not become ready, the way chart-testing (``ct``) prints it.

Plain Python, no pytest import (the pytest side is ``tests/cluster/evidence_plugin.py``). For one
namespace of a cluster it collects:

* the namespace's events, oldest first (sorted here, not by kubectl: events written through
  ``events.k8s.io/v1`` — the scheduler's ``FailedScheduling`` — carry ``eventTime`` and no
  ``lastTimestamp``, so ``kubectl get events --sort-by=.lastTimestamp`` would misplace them);
* ``kubectl describe`` of every pod that is not Ready and every Deployment / StatefulSet whose
  ready replicas fall short of its spec;
* the tail of each control plane component's log (``ControlPlane.log_dir``), when there is one.

A part that cannot be read becomes its own ``unavailable: …`` section and never hides the
others: evidence is gathered after something already went wrong.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG_TAIL_LINES = 40
# the components ControlPlane starts, in start order (their logs are <name>.log)
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
)


def _event_time(event: dict[str, Any]) -> str:
    """The latest time an event carries, as the API server wrote it (RFC 3339)."""
    series = event.get("series") or {}
    return str(
        event.get("lastTimestamp")
        or series.get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or event["metadata"].get("creationTimestamp")
        or ""
    )


def _sort_key(event: dict[str, Any]) -> tuple[datetime, int]:
    # parsed, not compared as text: "…:54.418Z" (eventTime, microseconds) sorts before
    # "…:54Z" (lastTimestamp, seconds) as text, although it is later. Within one second, the
    # resourceVersion (etcd's revision on a single-member etcd) keeps the order of writing.
    text = _event_time(event)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = datetime.min.replace(tzinfo=UTC)
    version = str(event["metadata"].get("resourceVersion", ""))
    return when, int(version) if version.isdigit() else 0


def format_events(events: Sequence[dict[str, Any]]) -> str:
    """One line per event, oldest first: time, type, reason, object, count, message.

    Args:
        events: ``items`` of a ``v1`` ``EventList``.

    Returns:
        The table, or ``no events`` when there are none.
    """
    if not events:
        return "no events"
    lines = []
    for event in sorted(events, key=_sort_key):
        obj = event.get("involvedObject", {})
        count = event.get("count") or (event.get("series") or {}).get("count") or 1
        lines.append(
            f"{_event_time(event)}  {event.get('type', '')}  {event.get('reason', '')}  "
            f"{obj.get('kind', '').lower()}/{obj.get('name', '')}  x{count}  "
            f"{event.get('message', '').strip()}"
        )
    return "\n".join(lines)


def pod_ready(pod: dict[str, Any]) -> bool:
    """True when the pod's ``Ready`` condition is ``True``."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def workload_ready(obj: dict[str, Any]) -> bool:
    """True when a Deployment's or StatefulSet's ready replicas reach its spec."""
    wanted = obj.get("spec", {}).get("replicas", 1)
    return bool(obj.get("status", {}).get("readyReplicas", 0) == wanted)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or why it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"unavailable: {exc}"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class EvidenceCollector:
    """Collects evidence from one cluster through kubectl.

    Args:
        kubectl: the kubectl executable.
        kubeconfig: the cluster's admin kubeconfig.
        log_dir: where the control plane components log (``ControlPlane.log_dir``); ``None``
            for a cluster whose components this process did not start (kind).
        log_lines: how many lines of each component log to keep.
        timeout: seconds per kubectl call.
    """

    kubectl: Path
    kubeconfig: Path
    log_dir: Path | None = None
    log_lines: int = LOG_TAIL_LINES
    timeout: float = 60.0

    def _run(self, *args: str) -> str:
        """kubectl ARGS; raises RuntimeError with kubectl's stderr when it fails."""
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        try:
            proc = subprocess.run(
                [str(self.kubectl), *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"kubectl {' '.join(args)}: {exc}") from exc
        if proc.returncode != 0:
            raise RuntimeError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc.stdout

    def _items(self, sections: dict[str, str], title: str, *args: str) -> list[dict[str, Any]]:
        try:
            items: list[dict[str, Any]] = json.loads(self._run(*args, "-o", "json"))["items"]
        except (RuntimeError, ValueError, KeyError) as exc:
            sections[title] = f"unavailable: {exc}"
            return []
        return items

    def collect(self, namespace: str) -> dict[str, str]:
        """Every section of evidence for ``namespace``: ``{title: text}``, in reading order.

        Titles: ``events <ns>``, ``describe pod/<name>``, ``describe deployment/<name>``,
        ``describe statefulset/<name>``, ``log <component> (last N lines)``.
        """
        sections: dict[str, str] = {}
        events = self._items(sections, f"events {namespace}", "get", "events", "-n", namespace)
        if f"events {namespace}" not in sections:
            sections[f"events {namespace}"] = format_events(events)
        targets: list[str] = []
        for obj in self._items(sections, f"pods {namespace}", "get", "pods", "-n", namespace):
            if not pod_ready(obj):
                targets.append(f"pod/{obj['metadata']['name']}")
        for obj in self._items(
            sections, f"workloads {namespace}", "get", "deployments,statefulsets", "-n", namespace
        ):
            if not workload_ready(obj):
                targets.append(f"{obj['kind'].lower()}/{obj['metadata']['name']}")
        for target in targets:
            try:
                sections[f"describe {target}"] = self._run("describe", target, "-n", namespace)
            except RuntimeError as exc:
                sections[f"describe {target}"] = f"unavailable: {exc}"
        if self.log_dir is not None:
            for component in COMPONENTS:
                sections[f"log {component} (last {self.log_lines} lines)"] = log_tail(
                    self.log_dir / f"{component}.log", self.log_lines
                )
        return sections


def format_sections(sections: dict[str, str]) -> str:
    """The sections as one text, each under a ``== title`` line (as ct prints them)."""
    return "\n".join(f"== {title}\n{text.rstrip()}\n" for title, text in sections.items())
