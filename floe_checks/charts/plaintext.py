"""No credential in a values file (SC-004): secrets travel only as references to Secrets.

A key that names a credential (password, token, secret, API key, …) may hold an empty string,
a mapping (``apiSecret: {existingSecret: …}``) or a list, never a non-empty string. Keys that
*name* a Secret or a key inside one (``existingSecret``, ``postgresqlSecretName``,
``passwordKey``, ``secretKey``) are references, not credentials.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

# A key that names a credential ends with one of these words...
_CREDENTIAL = re.compile(
    r"(password|passwd|passphrase|secret|token|api[_-]?key|private[_-]?key|access[_-]?key(id)?"
    r"|credentials?)$",
    re.IGNORECASE,
)
# ...unless it names an existing Secret (`existingSecret`). Keys that name a Secret or a key
# inside one (`postgresqlSecretName`, `passwordKey`, `secretKey`) never match the end anchor.
_REFERENCE = re.compile(r"^existing", re.IGNORECASE)


def is_credential_key(key: str) -> bool:
    """True for a key that holds a credential (the one rule, also used by the examples)."""
    return bool(_CREDENTIAL.search(key)) and not _REFERENCE.search(key)


def plaintext_credentials(values: Any, path: str = "") -> list[str]:
    """Dotted paths of credential-named keys that hold a non-empty string."""
    found: list[str] = []
    if isinstance(values, dict):
        for key, value in values.items():
            dotted = f"{path}.{key}" if path else str(key)
            if isinstance(value, str) and value.strip() and is_credential_key(str(key)):
                found.append(dotted)
            found += plaintext_credentials(value, dotted)
    elif isinstance(values, list):
        for i, item in enumerate(values):
            found += plaintext_credentials(item, f"{path}[{i}]")
    return found


def check_values_file(path: Path) -> list[str]:
    """Problems of one values file: each plaintext credential, named by file and key path."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return [
        f"{path}: {dotted} holds a plaintext credential; reference a Secret "
        "(existingSecret / ExternalSecret) instead"
        for doc in docs
        for dotted in plaintext_credentials(doc)
    ]


# detect-secrets plugins that recognise secrets by their shape. Its keyword plugin is left out:
# it flags every `existingSecret: name` reference, which is exactly what we want people to write.
_SHAPE_PLUGINS = [
    {"name": "AWSKeyDetector"},
    {"name": "AzureStorageKeyDetector"},
    {"name": "BasicAuthDetector"},
    {"name": "GitHubTokenDetector"},
    {"name": "JwtTokenDetector"},
    {"name": "PrivateKeyDetector"},
    {"name": "SlackDetector"},
    {"name": "StripeDetector"},
    {"name": "Base64HighEntropyString", "limit": 4.5},
    {"name": "HexHighEntropyString", "limit": 3.0},
]


def scan_for_secrets(paths: list[Path]) -> list[str]:
    """detect-secrets (shape and entropy plugins) over files: ``path:line: type`` per finding."""
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import transient_settings

    found: list[str] = []
    with transient_settings({"plugins_used": _SHAPE_PLUGINS}):
        collection = SecretsCollection()
        for path in paths:
            collection.scan_file(str(path))
        for filename, secrets in collection.json().items():
            found += [f"{filename}:{s['line_number']}: {s['type']}" for s in secrets]
    return sorted(found)
