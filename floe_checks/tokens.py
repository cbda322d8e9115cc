"""HS256 JSON Web Tokens (RFC 7519), as Cube's ``CUBEJS_API_SECRET`` expects.

Built with :mod:`hmac` so neither the probe nor the client needs a JWT library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from pydantic import SecretStr


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def hs256_token(
    secret: SecretStr | str,
    claims: dict[str, object] | None = None,
    *,
    ttl: int = 300,
    now: int | None = None,
) -> str:
    """A token over ``claims`` signed with ``secret``; ``iat``/``exp`` added unless set."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    issued = int(time.time()) if now is None else now
    payload = {"iat": issued, "exp": issued + ttl, **(claims or {})}
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))
        for part in (header, payload)
    )
    signature = hmac.new(key.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256)
    return f"{signing_input}.{_b64url(signature.digest())}"
