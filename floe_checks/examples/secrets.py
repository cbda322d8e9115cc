"""Secrets in the examples and no credential in Git (SC-004): which Secrets a build
produces and which it needs, literal credentials in values files, the SOPS file's metadata
and ciphertext, and the detect-secrets scan against the baseline."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from floe_checks.charts.plaintext import is_credential_key
from floe_checks.examples.manifests import Problem, _get, _rel, load_documents

#: Files that hold the documented example ciphertext, the only entries allowed in the
#: detect-secrets baseline.
EXAMPLE_CIPHERTEXT_FILES = (
    "examples/secrets/sealed-secrets/sealed-secrets.yaml",
    "examples/secrets/sops/values.enc.yaml",
    "examples/secrets/sops/.sops.yaml",  # the example age public key
)

#: detect-secrets ``--exclude-secrets`` patterns of the baseline: values that *name* a secret
#: (environment variable and Secret key names, this project's Secret names, the Dagster chart's
#: fixed key ``postgresql-password``) are references, not credentials.
SECRET_NAME_PATTERNS = (
    r"^[A-Z][A-Z0-9_]*$",
    r"^floe-[a-z0-9-]+$",
    r"^postgresql-password$",
)

_SECRET_ENV_NAME = re.compile(
    r"(PASS|PASSWD|PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?)$",
    re.IGNORECASE,
)


def produced_secret_names(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    """Names of the Secrets a set of objects creates in the cluster: plain (or generated)
    Secrets, ExternalSecret targets and SealedSecret templates (the chart checks' own rule,
    :func:`floe_checks.charts.wiring.secret_names`)."""
    from floe_checks.charts.wiring import secret_names

    return secret_names(dict(obj) for obj in objects)


def required_secret_names(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    """Names of the Secrets HelmReleases read their values from (``valuesFrom``)."""
    names: set[str] = set()
    for obj in objects:
        if obj.get("kind") != "HelmRelease":
            continue
        for ref in _get(obj, "spec", "valuesFrom") or []:
            if ref.get("kind") == "Secret" and not ref.get("optional"):
                names.add(str(ref.get("name")))
    return names


def store_problems(
    objects: Iterable[Mapping[str, Any]], stores: set[str], file: str
) -> list[Problem]:
    """Every ExternalSecret refers to one of the ClusterSecretStores in ``stores``."""
    problems: list[Problem] = []
    for obj in objects:
        if obj.get("kind") != "ExternalSecret":
            continue
        ref = _get(obj, "spec", "secretStoreRef") or {}
        if ref.get("kind") != "ClusterSecretStore" or ref.get("name") not in stores:
            problems.append(
                Problem(
                    file,
                    f"ExternalSecret {_get(obj, 'metadata', 'name')} refers to store "
                    f"{ref.get('kind')}/{ref.get('name')}, which the examples do not define",
                )
            )
    return problems


# --- environment values ----------------------------------------------------------------


def _walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, str(index)))
    else:
        yield path, value


def plaintext_secret_problems(values_file: Path, root: Path) -> list[Problem]:
    """A values file holds no literal credential (SC-004).

    A key that names a credential (``password``, ``apiSecret``, ``token``, ...) must not hold
    a literal value; keys that *name* a Secret (``existingSecret``, ``passwordSecretKey``)
    are fine. ``env`` lists are checked too: an entry whose ``name`` looks like a credential
    must use ``valueFrom``, not ``value``.
    """
    file = _rel(values_file, root)
    try:
        docs = load_documents(values_file)
    except (yaml.YAMLError, ValueError) as exc:
        return [Problem(file, f"not valid YAML: {exc}")]
    problems: list[Problem] = []
    for doc in docs:
        for path, value in _walk(doc):
            if value in (None, "", False, True) or not path:
                continue
            key = path[-1]
            dotted = ".".join(path)
            if is_credential_key(key):
                problems.append(
                    Problem(
                        file,
                        f"{dotted} holds a literal credential; reference an existing "
                        "Secret instead (SC-004)",
                    )
                )
        for env_list_path, env_list in _walk_lists(doc):
            for entry in env_list:
                if (
                    isinstance(entry, Mapping)
                    and isinstance(entry.get("name"), str)
                    and _SECRET_ENV_NAME.search(entry["name"])
                    and "value" in entry
                    and entry["value"] not in (None, "")
                ):
                    problems.append(
                        Problem(
                            file,
                            f"{'.'.join(env_list_path)}: {entry['name']} has a literal "
                            "value; use valueFrom.secretKeyRef (SC-004)",
                        )
                    )
    return problems


def _walk_lists(
    value: Any, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], list[Any]]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk_lists(item, (*path, str(key)))
    elif isinstance(value, list):
        yield path, value
        for index, item in enumerate(value):
            yield from _walk_lists(item, (*path, str(index)))


# --- SOPS ------------------------------------------------------------------------------

_ENC = re.compile(
    r"^ENC\[AES256_GCM,data:(?P<data>[A-Za-z0-9+/=]*),iv:(?P<iv>[A-Za-z0-9+/=]+),"
    r"tag:(?P<tag>[A-Za-z0-9+/=]+),type:(?P<type>str|int|float|bool|bytes|comment)\]$"
)
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"  # pragma: allowlist secret (BIP-173 alphabet)


def _bech32_valid(text: str, hrp: str) -> bool:
    if text.lower() != text or not text.startswith(hrp + "1"):
        return False
    data = text[len(hrp) + 1 :]
    if len(data) < 6 or any(c not in _BECH32 for c in data):
        return False
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    values += [_BECH32.index(c) for c in data]
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    return check == 1


def is_age_recipient(text: str) -> bool:
    """Whether ``text`` is a syntactically valid age X25519 recipient (``age1…``, bech32,
    32-byte key)."""
    return len(text) == 62 and _bech32_valid(text, "age")


def _b64_len(text: str) -> int | None:
    try:
        return len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return None


def _enc_problem(value: str) -> str | None:
    match = _ENC.match(value)
    if not match:
        return "is not an ENC[AES256_GCM,...] value"
    if _b64_len(match["iv"]) != 32:
        return "has an iv that is not 32 bytes"
    if _b64_len(match["tag"]) != 16:
        return "has a tag that is not 16 bytes"
    if _b64_len(match["data"]) is None:
        return "has data that is not base64"
    return None


def sops_problems(sops_file: Path, sops_config: Path, root: Path) -> list[Problem]:
    """A SOPS file is really encrypted, and to the recipient ``.sops.yaml`` names.

    Checks the ``sops:`` metadata (age recipients with an armored data key, ``lastmodified``,
    an encrypted ``mac``, ``version``) and that every value under the encrypted keys is an
    ``ENC[AES256_GCM,…]`` value, so a decrypted or hand-edited file fails.
    """
    file = _rel(sops_file, root)
    try:
        docs = load_documents(sops_file)
        config_docs = load_documents(sops_config)
    except (yaml.YAMLError, ValueError) as exc:
        return [Problem(file, f"not valid YAML: {exc}")]
    if len(docs) != 1:
        return [Problem(file, f"expected one YAML document, found {len(docs)}")]
    doc = docs[0]
    meta = doc.get("sops")
    if not isinstance(meta, Mapping):
        return [Problem(file, "has no sops metadata: the file is not encrypted (SC-004)")]
    problems: list[Problem] = []
    recipients = [str(a.get("recipient")) for a in meta.get("age") or [] if isinstance(a, dict)]
    if not recipients:
        problems.append(Problem(file, "sops.age lists no recipient"))
    for entry in meta.get("age") or []:
        recipient = str(entry.get("recipient"))
        if not is_age_recipient(recipient):
            problems.append(Problem(file, f"sops.age recipient {recipient!r} is not an age key"))
        enc = str(entry.get("enc", ""))
        if not (
            enc.startswith("-----BEGIN AGE ENCRYPTED FILE-----")
            and enc.rstrip().endswith("-----END AGE ENCRYPTED FILE-----")
        ):
            problems.append(Problem(file, "sops.age enc is not an armored age file"))
    rules = _get(config_docs[0] if config_docs else {}, "creation_rules") or []
    configured = {
        r.strip()
        for rule in rules
        if re.search(str(rule.get("path_regex", ".*")), sops_file.name)
        for r in str(rule.get("age", "")).split(",")
        if r.strip()
    }
    if set(recipients) != configured:
        problems.append(
            Problem(
                file, f"recipients {sorted(recipients)} differ from .sops.yaml {sorted(configured)}"
            )
        )
    try:
        datetime.fromisoformat(str(meta.get("lastmodified")).replace("Z", "+00:00"))
    except ValueError:
        problems.append(Problem(file, "sops.lastmodified is not an RFC 3339 timestamp"))
    mac_problem = _enc_problem(str(meta.get("mac", "")))
    if mac_problem:
        problems.append(Problem(file, f"sops.mac {mac_problem}"))
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(meta.get("version", ""))):
        problems.append(Problem(file, "sops.version is missing"))
    encrypted_regex = meta.get("encrypted_regex")
    unencrypted_suffix = str(meta.get("unencrypted_suffix") or "_unencrypted")
    body = {k: v for k, v in doc.items() if k != "sops"}
    leaves = list(_walk(body))
    if not leaves:
        problems.append(Problem(file, "holds no values"))
    for path, value in leaves:
        if any(part.endswith(unencrypted_suffix) for part in path):
            continue
        if encrypted_regex and not any(re.search(str(encrypted_regex), p) for p in path):
            continue
        problem = _enc_problem(value) if isinstance(value, str) else "is plaintext"
        if problem:
            problems.append(
                Problem(file, f"{'.'.join(path)} {problem}: the value is in plaintext (SC-004)")
            )
    return problems


# --- detect-secrets --------------------------------------------------------------------


def tracked_files(root: Path) -> list[str]:
    """Files git tracks in ``root`` (repository-relative)."""
    proc = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [f for f in proc.stdout.decode().split("\0") if f]


def detect_secrets_problems(root: Path, files: Iterable[str], baseline: Path) -> list[Problem]:
    """Scan ``files`` with detect-secrets using the baseline's plugins and filters, and report
    every finding the baseline does not allow-list. The baseline itself is not scanned."""
    import json

    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import transient_settings

    raw = json.loads(baseline.read_text(encoding="utf-8"))
    allowed_entries = raw.get("results", {})
    skip = {_rel(baseline, root)}
    paths = [f for f in files if f not in skip and (root / f).is_file()]
    settings = {"plugins_used": raw["plugins_used"], "filters_used": raw.get("filters_used", [])}
    with transient_settings(settings), contextlib.chdir(root):
        found = SecretsCollection()
        found.scan_files(*paths, num_processors=1)
        allowed = SecretsCollection.load_from_baseline({"results": allowed_entries})
        new = found - allowed
        problems = [
            Problem(filename, f"line {secret.line_number}: possible {secret.type} (detect-secrets)")
            for filename, secret in new
        ]
    return sorted(problems, key=lambda p: (p.file, p.message))


def baseline_scope_problems(baseline: Path, allowed_files: Iterable[str]) -> list[Problem]:
    """The detect-secrets baseline allow-lists nothing outside the documented example
    ciphertext files."""
    import json

    raw = json.loads(baseline.read_text(encoding="utf-8"))
    allowed = set(allowed_files)
    return [
        Problem(".secrets.baseline", f"allow-lists {filename}, which is not example ciphertext")
        for filename in sorted(raw.get("results", {}))
        if filename not in allowed
    ]
