"""Every failure a floe-checks user can meet, as one exception hierarchy.

Modelled on httpx: each class names a situation and carries what to do about it, so that
remediation text lives here and nowhere else. Messages never include secret values.
"""

from __future__ import annotations

import enum


class FloeError(Exception):
    """Base class of every error floe-checks raises on purpose.

    Attributes:
        remediation: what the user should do about it, in one sentence.
    """

    remediation: str = ""

    def __init__(self, message: str, *, remediation: str | None = None) -> None:
        super().__init__(message)
        if remediation is not None:
            self.remediation = remediation

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(FloeError):
    """floe.yaml (or a setting that names it) is wrong.

    The message always names the file and, when there is one, the dotted field path.
    Exit code: pytest usage error (4) under pytest, 2 under ``floe``.
    """

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        field: str | None = None,
        remediation: str | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        where = f"{file}: {field}" if field else file
        text = f"{where}: {problem}"
        if "\n" not in problem and not problem.endswith("."):
            text += "."
        if remediation:
            text += f" Fix: {remediation}"
        super().__init__(text, remediation=remediation)


class FailureKind(enum.StrEnum):
    """How a check failed, classified once for every backend."""

    DNS = "dns"
    REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    TLS = "tls"
    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    NOT_FOUND = "not_found"
    PROTOCOL = "protocol"
    MISSING_CLIENT = "missing_client"
    QUERY = "query"
    UNKNOWN = "unknown"


class CheckFailure(FloeError):
    """A preflight probe met a real failure of the service it checks.

    Args:
        kind: the classification; it selects the remediation template.
        message: what happened, without secrets.
        remediation: the concrete fix, naming the floe.yaml field or environment variable.
        details: extra facts for the report (endpoint, http_status, …); never secrets.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        remediation: str,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message, remediation=remediation)
        self.kind = kind
        self.details = dict(details or {})


class StackError(FloeError):
    """The end-to-end stack could not be started, reached or stopped."""


class PrerequisiteMissing(FloeError):
    """Something the requested path needs is not on this machine (for example Docker or kind).

    Tests turn this into a skip whose reason is the message.
    """


class CheckoutRequired(PrerequisiteMissing):
    """The charts, the demo or the Dockerfiles are needed, and they ship with a checkout of the
    floe-checks repository, not with the installed wheel (which holds the plugin and the CLI).
    """

    remediation = (
        "run it from a clone of the floe-checks repository (the wheel ships the plugin, not the "
        "charts, demo and docker folders), or set FLOE_CHECKOUT to the path of one"
    )


class UsageError(FloeError):
    """A command-line option has a value the command cannot use (``floe demo up --interval 7m``).

    The message names the option; exit code 2, as argparse's own usage errors.
    """
