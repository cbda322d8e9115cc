"""Secret scrubbing: every form in which a client may echo a secret, and one object that
removes them all from text.

A secret rarely comes back the way it was configured: an OAuth2 server echoes a form-encoded
``client_secret=Cat%2FPr0d%2BWr0ng%3D7z%26x``, a JSON error escapes quotes and backslashes, a
Basic ``Authorization`` header carries ``base64(user:password)``. :func:`secret_forms` lists
those forms for one section; :class:`Scrubber` replaces each with ``***``.

Plain Python, cheap to import (no client library): the runner uses it for the bundled checks'
results and the plugin for every report of a session (see :mod:`floe_checks.plugin`).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import SecretStr

from floe_checks.config import Environment, Section

REDACTED = "***"
# Shorter values would mangle ordinary words; no real credential is that short.
MIN_REDACTED_LENGTH = 4
# Fields that name the identity a secret belongs to: Basic auth sends base64("<id>:<secret>").
_IDENTITY_FIELDS = ("user", "client_id", "access_key_id", "account")


def encodings(secret: str) -> list[str]:
    """``secret`` as clients put it on the wire or into an error: itself, URL-encoded (path,
    query and form styles), JSON-escaped, Python-repr-escaped and base64."""
    forms = [
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode(),
    ]
    return forms


def _basic_auth_forms(identity: str, secret: str) -> list[str]:
    pair = f"{identity}:{secret}".encode()
    return [base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()]


def _plain(value: Any) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return None


def secret_forms(section: Section) -> list[str]:
    """Every form of every secret a section holds, longest first (so that a longer form is
    replaced before a shorter one inside it)."""
    secrets = [
        plain
        for name in type(section).model_fields
        if (plain := _plain(getattr(section, name, None))) is not None
    ]
    # Basic auth pairs a secret with its identity: a user name, a client id, or another
    # secret (an access key id is both).
    identities = [
        str(value)
        for name in _IDENTITY_FIELDS
        if (value := getattr(section, name, None)) is not None and _plain(value) is None
    ] + secrets
    forms: set[str] = set()
    for secret in secrets:
        forms.update(encodings(secret))
        for identity in identities:
            if identity != secret:
                forms.update(_basic_auth_forms(identity, secret))
    return sorted((f for f in forms if len(f) >= MIN_REDACTED_LENGTH), key=len, reverse=True)


def environment_forms(env: Environment) -> list[str]:
    """:func:`secret_forms` of every configured section of an environment."""
    forms: set[str] = set()
    for section in env.sections().values():
        forms.update(secret_forms(section))
    return sorted(forms, key=len, reverse=True)


class Scrubber:
    """Replaces every known form of a set of secrets with ``***``.

    Args:
        forms: the strings to remove (see :func:`secret_forms`).
    """

    def __init__(self, forms: Iterable[str] = ()) -> None:
        unique = {f for f in forms if len(f) >= MIN_REDACTED_LENGTH}
        self.forms: tuple[str, ...] = tuple(sorted(unique, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self.forms)

    def text(self, value: str) -> str:
        """``value`` with each form replaced."""
        for form in self.forms:
            if form in value:
                value = value.replace(form, REDACTED)
        return value

    def leaks(self, value: str) -> bool:
        """Whether ``value`` holds any form."""
        return any(form in value for form in self.forms)

    def value(self, value: Any) -> Any:
        """Strings, list/tuple items and dict values, recursively; anything else unchanged."""
        if not self.forms:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def scrub(value: Any, forms: Sequence[str]) -> Any:
    """``value`` with every form in ``forms`` replaced by ``***``."""
    return Scrubber(forms).value(value)


class ScrubbingRecordFactory:
    """A :mod:`logging` record factory whose records hide the secrets in their message.

    Installed for a pytest session, it covers every handler at once: pytest's captured log
    sections, live logging (``--log-cli-level``), ``--log-file`` and ``caplog``. Without it,
    ``--log-level=DEBUG`` shows botocore's ``Authorization`` header with the access key id.
    """

    def __init__(self, previous: Any, scrubber: Scrubber) -> None:
        self.previous = previous
        self.scrubber = scrubber

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.previous(*args, **kwargs)
        if not self.scrubber:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a broken format string stays logging's own problem
            return record
        cleaned = self.scrubber.text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record


class ScrubbingStream:
    """A text stream that scrubs each write before passing it on: ``sys.stdout`` and
    ``sys.stderr`` while pytest's capture is off (``-s``), when a user's prints reach the
    terminal without passing through a report. A secret split across two writes is not seen
    (``print`` writes its whole text at once)."""

    def __init__(self, stream: Any, scrubber: Scrubber) -> None:
        self._stream = stream
        self._scrubber = scrubber

    def write(self, text: str) -> int:
        self._stream.write(self._scrubber.text(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
