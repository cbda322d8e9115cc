"""BigQuery: run ``SELECT 1`` as a query job in the configured project.

A query job needs ``bigquery.jobs.create`` in the project, the permission dbt needs first; a
missing project answers 404, a missing grant 403. Each request has the per-check timeout and no
retries: a preflight reports the first failure instead of hiding it behind back-off.
"""

from __future__ import annotations

from floe_checks.config import BigQueryCompute
from floe_checks.errors import FailureKind
from floe_checks.failures import failure
from floe_checks.probes.google_client import (
    classify,
    credentials_source,
    first_line,
    http_status,
    load_credentials,
)
from floe_checks.results import Service

SERVICE = Service.COMPUTE

_SCOPES = ("https://www.googleapis.com/auth/bigquery",)
_DEFAULT_ENDPOINT = "https://bigquery.googleapis.com"


def _failure_fields(section: BigQueryCompute, kind: FailureKind) -> list[str]:
    identity = "anonymous" if section.anonymous else "credentials_file"
    fields = {
        FailureKind.AUTHENTICATION: [identity],
        FailureKind.AUTHORIZATION: [identity, "project"],
        FailureKind.NOT_FOUND: ["project", "api_endpoint"],
        FailureKind.QUERY: ["project", "location"],
    }
    return fields.get(kind, ["api_endpoint"])


def check(section: BigQueryCompute, timeout: float) -> dict[str, object]:
    """Run ``SELECT 1`` in ``section.project`` and wait for its result.

    Raises:
        CheckFailure: credentials, the project, the grant or the endpoint is wrong.
    """
    from google.api_core.client_options import ClientOptions
    from google.cloud import bigquery

    endpoint = section.api_endpoint or _DEFAULT_ENDPOINT
    credentials = load_credentials(
        section, anonymous=section.anonymous, scopes=_SCOPES, endpoint=endpoint, timeout=timeout
    )
    options = ClientOptions(api_endpoint=section.api_endpoint) if section.api_endpoint else None
    client = bigquery.Client(
        project=section.project,
        credentials=credentials,
        location=section.location,
        client_options=options,
    )
    try:
        # retry=None: no retry (the library accepts it; its annotation does not say so).
        job = client.query(
            "SELECT 1",
            timeout=timeout,
            retry=None,  # type: ignore[arg-type]
            job_retry=None,
        )
        rows = list(job.result(timeout=timeout, retry=None))
    except Exception as exc:
        status = http_status(exc)
        kind = classify(exc)
        if kind == FailureKind.PROTOCOL and status == 400:
            kind = FailureKind.QUERY
        raise failure(
            kind,
            f"BigQuery SELECT 1 in project {section.project} failed: {first_line(exc)}",
            section,
            _failure_fields(section, kind),
            endpoint=endpoint,
            timeout=timeout,
            what={
                FailureKind.AUTHORIZATION: f"bigquery.jobs.create in project {section.project}",
                FailureKind.NOT_FOUND: f"the project {section.project}",
                FailureKind.PROTOCOL: "the BigQuery API",
            }.get(kind, first_line(exc)),
            details={"http_status": status} if status is not None else None,
        ) from None
    finally:
        client.close()  # type: ignore[no-untyped-call]
    if len(rows) != 1 or rows[0][0] != 1:
        raise failure(
            FailureKind.PROTOCOL,
            f"SELECT 1 returned {[tuple(r) for r in rows]!r} instead of [(1,)].",
            section,
            _failure_fields(section, FailureKind.PROTOCOL),
            endpoint=endpoint,
            timeout=timeout,
            what="the BigQuery API",
        )
    return {
        "message": f"SELECT 1 ran as job {job.job_id} in project {section.project}",
        "endpoint": endpoint,
        "project": section.project,
        "location": job.location,
        "job_id": job.job_id,
        "credentials": credentials_source(section, anonymous=section.anonymous),
    }
