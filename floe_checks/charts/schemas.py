"""Make a chart's ``values.schema.json`` self-contained, so that Helm validates it offline.

The published Dagster chart's schemas point at Kubernetes definitions on the internet
(``"$ref": "https://raw.githubusercontent.com/yannh/kubernetes-json-schema/master/v1.19.0/
_definitions.json#/definitions/io.k8s.api.core.v1.Probe"``). Helm loads every remote ``$ref``
when it compiles a schema, so ``helm template``/``install``/``lint`` of any chart that contains
it fails where that host cannot be reached (dagster-io/dagster#29629).

:func:`localize_chart_archive` rewrites such a chart archive: each remote document is read from
a local copy under ``schemas_dir/<host>/<path>`` (the layout ``curl --create-dirs -o`` or
``wget -x`` produce), the definitions the schema uses (and the ones those use) are copied into
the schema's own ``definitions``, and each remote ``$ref`` becomes a local ``#/definitions/…``
one. Validation stays as strict as upstream; nothing is fetched.

Command line (docs/charts.md): ``python -m floe_checks.charts schema-documents ARCHIVE.tgz``
lists the documents to download; ``python -m floe_checks.charts vendor-dagster`` inlines them.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from floe_checks.errors import ChartError, SchemaDocumentMissing

_DEFINITIONS_PREFIX = "#/definitions/"


def remote_refs(schema: Any) -> set[str]:
    """Every ``$ref`` in ``schema`` that names an http(s) document."""
    return {ref for ref in _refs(schema) if ref.startswith(("http://", "https://"))}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def local_copy(schemas_dir: Path, url: str) -> Path:
    """Where the local copy of the document ``url`` (fragment ignored) is expected."""
    parts = urlsplit(url.split("#", 1)[0])
    return schemas_dir / parts.netloc / parts.path.lstrip("/")


def _definition_name(fragment: str, url: str) -> str:
    if not fragment.startswith(_DEFINITIONS_PREFIX[1:]):
        # Every remote $ref of the Dagster chart points into `definitions`; others are new.
        raise ChartError(
            f"$ref {url}#{fragment}: only references into a document's definitions "
            f"('{_DEFINITIONS_PREFIX}…') can be made local"
        )
    return fragment[len(_DEFINITIONS_PREFIX) - 1 :].split("/", 1)[0]


def localize_schema(schema: dict[str, Any], schemas_dir: Path, *, where: str) -> list[str]:
    """Rewrite ``schema`` in place so it holds no remote ``$ref``; returns the documents used.

    Args:
        schema: a parsed ``values.schema.json``.
        schemas_dir: the local copies, ``<host>/<path>`` per remote document.
        where: names the schema in error messages (``dagster/values.schema.json``).

    Raises:
        ChartError: a referenced document has no local copy, is not JSON, or lacks the
            definition referenced.
    """
    refs = sorted(remote_refs(schema))
    if not refs:
        return []
    documents: dict[str, dict[str, Any]] = {}
    for ref in refs:
        url = ref.split("#", 1)[0]
        if url in documents:
            continue
        path = local_copy(schemas_dir, url)
        if not path.is_file():
            raise SchemaDocumentMissing(where, url, path)
        try:
            documents[url] = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ChartError(f"{path} (local copy of {url}) is not JSON: {exc}") from exc
    definitions: dict[str, Any] = schema.setdefault("definitions", {})
    # Copy the referenced definitions and, transitively, the ones they reference.
    pending = [(ref.split("#", 1)[0], ref.split("#", 1)[1] if "#" in ref else "") for ref in refs]
    copied: set[tuple[str, str]] = set()
    while pending:
        url, fragment = pending.pop()
        name = _definition_name(fragment, url)
        if (url, name) in copied:
            continue
        source = documents[url].get("definitions") or {}
        if name not in source:
            raise ChartError(f"{where}: {url} has no definition {name!r} (wrong local copy?)")
        if name in definitions and definitions[name] != source[name]:
            raise ChartError(f"{where}: definition {name!r} exists already and differs")
        definitions[name] = source[name]
        copied.add((url, name))
        for inner in _refs(source[name]):
            if inner.startswith(_DEFINITIONS_PREFIX):
                pending.append((url, inner[1:]))
    _rewrite(schema)
    return sorted(documents)


def _rewrite(node: Any) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(("http://", "https://")):
            node["$ref"] = "#" + (ref.split("#", 1)[1] if "#" in ref else "")
        for value in node.values():
            _rewrite(value)
    elif isinstance(node, list):
        for item in node:
            _rewrite(item)


def archive_remote_documents(archive: Path) -> list[str]:
    """The remote documents (URLs without fragment) the archive's schemas refer to."""
    found: set[str] = set()
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith("/values.schema.json"):
                data = tar.extractfile(member)
                if data is not None:
                    found.update(r.split("#", 1)[0] for r in remote_refs(json.loads(data.read())))
    return sorted(found)


def localize_chart_archive(archive: Path, schemas_dir: Path) -> list[str]:
    """Rewrite every ``values.schema.json`` in a chart archive (subcharts too) in place.

    Returns:
        The remote documents that were inlined (empty: the archive was left untouched).

    Raises:
        ChartError: see :func:`localize_schema`; the archive is then left untouched.
    """
    members: list[tuple[tarfile.TarInfo, bytes]] = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.isfile() else None
            members.append((member, handle.read() if handle is not None else b""))
    used: set[str] = set()
    rewritten: list[tuple[tarfile.TarInfo, bytes]] = []
    for member, content in members:
        if member.isfile() and member.name.endswith("/values.schema.json"):
            schema = json.loads(content)
            docs = localize_schema(schema, schemas_dir, where=member.name)
            if docs:
                used.update(docs)
                content = (json.dumps(schema, indent=1) + "\n").encode()
                member.size = len(content)
        rewritten.append((member, content))
    if not used:
        return []
    tmp = archive.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz") as out:
        for member, content in rewritten:
            out.addfile(member, io.BytesIO(content) if member.isfile() else None)
    tmp.replace(archive)
    return sorted(used)
