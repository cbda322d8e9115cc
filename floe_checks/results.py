"""The preflight result contract of SPEC.md: one :class:`CheckResult` per service, one
:class:`Report` per run. Plain Python; JSON via pydantic."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Service(enum.StrEnum):
    COMPUTE = "compute"
    STORAGE = "storage"
    CATALOG = "catalog"
    POSTGRES = "postgres"
    CUBE = "cube"
    DAGSTER = "dagster"
    CUSTOM = "custom"  # a user's own check (floe_result fixture, docs/extending.md)


class Status(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


class CheckResult(BaseModel):
    """One check of one service. ``remediation`` is set whenever ``status`` is not ok."""

    model_config = ConfigDict(use_enum_values=True)

    service: Service
    backend: str
    status: Status
    message: str
    duration_ms: int
    remediation: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    def line(self) -> str:
        """The SPEC's human line, e.g. ``[CATALOG] ERROR: … Remediation: …``."""
        text = f"[{str(self.service).upper()}] {str(self.status).upper()}: {self.message}"
        if self.remediation:
            text += f" Remediation: {self.remediation}"
        return text


class Report(BaseModel):
    """A preflight run."""

    model_config = ConfigDict(use_enum_values=True)

    timestamp: str = Field(
        default_factory=lambda: (
            datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        )
    )
    overall_status: str = "pass"
    duration_ms: int = 0
    environment: str
    checks: list[CheckResult] = Field(default_factory=list)

    def finish(self, duration_ms: int) -> Report:
        """Set the duration and the overall status (warnings still pass)."""
        self.duration_ms = duration_ms
        failed = any(c.status == Status.ERROR.value for c in self.checks)
        self.overall_status = "fail" if failed else "pass"
        return self
