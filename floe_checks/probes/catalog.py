"""Iceberg REST catalog (Apache Polaris or any Iceberg REST server with OAuth2).

The three calls every engine makes before touching a table: an OAuth2 client-credentials token
from ``{uri}/v1/oauth/tokens`` (or ``oauth2_server_uri``), ``GET {uri}/v1/config?warehouse=…``
with that token, then ``GET {uri}/v1/{prefix}/namespaces`` using the ``prefix`` the config
answer returned. When ``namespace`` is configured, it must exist too.
"""

from __future__ import annotations

from urllib.parse import quote

from floe_checks.config import RestCatalog
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.failures import failure, kind_for_http_status
from floe_checks.probes.rest import error_text, json_body, request
from floe_checks.results import Service

SERVICE = Service.CATALOG

_CREDENTIALS = ("client_id", "client_secret")


def _token(section: RestCatalog, base: str, timeout: float) -> tuple[str, object]:
    url = section.oauth2_server_uri or f"{base}/v1/oauth/tokens"
    where = ["oauth2_server_uri"] if section.oauth2_server_uri else ["uri"]
    response = request(
        "POST",
        url,
        section,
        where,
        timeout=timeout,
        step="OAuth2 token request",
        verify=section.tls_verify(),
        data={
            "grant_type": "client_credentials",
            "client_id": section.client_id,
            "client_secret": section.client_secret.get_secret_value(),
            "scope": section.scope,
        },
    )
    if response.status_code in (400, 401, 403):
        body_error = ""
        try:
            payload = response.json()
            if isinstance(payload, dict):
                body_error = str(payload.get("error") or "")
        except ValueError:
            pass
        if response.status_code == 401 or body_error in ("invalid_client", "unauthorized_client"):
            raise failure(
                FailureKind.AUTHENTICATION,
                f"OAuth2 authentication failed ({error_text(response)}).",
                section,
                _CREDENTIALS,
                endpoint=url,
                details={"http_status": response.status_code, "step": "token"},
            )
        if body_error == "invalid_scope":
            raise failure(
                FailureKind.AUTHORIZATION,
                f"OAuth2 token refused for scope {section.scope!r} ({error_text(response)}).",
                section,
                ["scope", "client_id"],
                endpoint=url,
                what=f"scope {section.scope}",
                details={"http_status": response.status_code, "step": "token"},
            )
    if response.status_code != 200:
        kind = kind_for_http_status(response.status_code)
        if kind is FailureKind.NOT_FOUND:
            kind = FailureKind.PROTOCOL  # no token endpoint at that URL: wrong URI or path
        raise failure(
            kind,
            f"OAuth2 token request failed ({error_text(response)}).",
            section,
            [*where, *_CREDENTIALS] if kind is not FailureKind.PROTOCOL else where,
            endpoint=url,
            what="an OAuth2 token endpoint",
            details={"http_status": response.status_code, "step": "token"},
        )
    body = json_body(response, section, where, endpoint=url, what="an OAuth2 token endpoint")
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise failure(
            FailureKind.PROTOCOL,
            "the OAuth2 answer has no access_token.",
            section,
            where,
            endpoint=url,
            what="an OAuth2 token endpoint",
            details={"http_status": response.status_code, "step": "token"},
        )
    return token, body.get("expires_in")


def _check_answer(
    section: RestCatalog, response_status: int, text: str, url: str, step: str, what: str
) -> None:
    kind = kind_for_http_status(response_status)
    fields: list[str]
    if kind is FailureKind.AUTHENTICATION:
        fields = list(_CREDENTIALS)
        message = f"the catalog rejected the token ({step}: {text})."
    elif kind is FailureKind.AUTHORIZATION:
        fields = ["client_id", "scope"]
        message = f"the principal may not {what} ({step}: {text})."
    elif kind is FailureKind.NOT_FOUND and section.warehouse:
        fields = ["warehouse"]
        what = f"warehouse {section.warehouse!r}"
        message = f"the catalog does not know warehouse {section.warehouse!r} ({step}: {text})."
    else:
        fields = ["uri"]
        message = f"{step} failed ({text})."
        if kind is FailureKind.NOT_FOUND:
            kind = FailureKind.PROTOCOL
            what = "an Iceberg REST catalog"
    raise failure(
        kind,
        message,
        section,
        fields,
        endpoint=url,
        what=what,
        details={"http_status": response_status, "step": step},
    )


def check(section: RestCatalog, timeout: float) -> dict[str, object]:
    """Token, config and namespace listing against the catalog.

    Raises:
        CheckFailure: any step failed.
    """
    base = section.uri.rstrip("/")
    token, expires_in = _token(section, base, timeout)
    auth = {"Authorization": f"Bearer {token}"}

    config_url = f"{base}/v1/config"
    params = {"warehouse": section.warehouse} if section.warehouse else None
    response = request(
        "GET",
        config_url,
        section,
        ["uri"],
        timeout=timeout,
        step="GET /v1/config",
        verify=section.tls_verify(),
        headers=auth,
        params=params,
    )
    if response.status_code != 200:
        _check_answer(
            section,
            response.status_code,
            error_text(response),
            config_url,
            "GET /v1/config",
            "read the catalog config",
        )
    config = json_body(
        response, section, ["uri"], endpoint=config_url, what="an Iceberg REST catalog"
    )
    overrides = config.get("overrides") if isinstance(config.get("overrides"), dict) else {}
    defaults = config.get("defaults") if isinstance(config.get("defaults"), dict) else {}
    prefix = (overrides or {}).get("prefix") or (defaults or {}).get("prefix")
    root = f"{base}/v1/{quote(str(prefix), safe='')}" if prefix else f"{base}/v1"

    ns_url = f"{root}/namespaces"
    response = request(
        "GET",
        ns_url,
        section,
        ["uri"],
        timeout=timeout,
        step="list namespaces",
        verify=section.tls_verify(),
        headers=auth,
    )
    if response.status_code != 200:
        _check_answer(
            section,
            response.status_code,
            error_text(response),
            ns_url,
            "list namespaces",
            "list namespaces",
        )
    listing = json_body(response, section, ["uri"], endpoint=ns_url, what="an Iceberg REST catalog")
    raw = listing.get("namespaces")
    names = (
        [".".join(str(p) for p in ns) for ns in raw if isinstance(ns, list)]
        if isinstance(raw, list)
        else []
    )

    details: dict[str, object] = {
        "endpoint": base,
        "warehouse": section.warehouse,
        "prefix": prefix,
        "token_expires_in": expires_in,
        "namespace_count": len(names),
        "namespaces": names[:20],
    }
    if section.namespace:
        # Multi-level namespaces are joined with the unit separator in Iceberg REST paths.
        encoded = quote("\x1f".join(section.namespace.split(".")), safe="")
        one_url = f"{root}/namespaces/{encoded}"
        response = request(
            "GET",
            one_url,
            section,
            ["uri"],
            timeout=timeout,
            step="load namespace",
            verify=section.tls_verify(),
            headers=auth,
        )
        if response.status_code == 404:
            raise failure(
                FailureKind.NOT_FOUND,
                f"namespace {section.namespace!r} does not exist in the catalog.",
                section,
                ["namespace"],
                endpoint=one_url,
                what=f"namespace {section.namespace!r}",
                details={**details, "http_status": 404, "step": "load namespace"},
            )
        if response.status_code != 200:
            _check_answer(
                section,
                response.status_code,
                error_text(response),
                one_url,
                "load namespace",
                f"read namespace {section.namespace!r}",
            )
        details["namespace"] = section.namespace
    lifetime = f"token valid {expires_in} s" if expires_in is not None else "token issued"
    message = f"OAuth2 {lifetime}; config read; {len(names)} namespace(s) listed" + (
        f"; namespace {section.namespace!r} exists" if section.namespace else ""
    )
    if section.write_check:
        # opt-in: only after every read-only step passed (the module imports pyiceberg)
        from floe_checks.probes import catalog_write

        try:
            written = catalog_write.run(section, token, timeout)
        except CheckFailure as exc:
            exc.details = {**details, **exc.details}
            exc.args = (f"{message}; {exc.message}",)
            raise
        message += f"; {written.pop('write_message')}"
        details.update(written)
    details["message"] = message + "."
    return details
