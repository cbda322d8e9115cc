"""A small client of Cube's REST API (``/cubejs-api/v1``): load, meta, pre-aggregation jobs.

Tokens are HS256 JWTs signed with the API secret (:mod:`floe_checks.tokens`).
Cube answers a query that is still being computed with ``{"error": "Continue wait"}``; the
client polls again, within a bounded total time.
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests
from pydantic import SecretStr

from floe_checks.errors import CubeError, CubeRequestFailed, CubeStillWaiting
from floe_checks.polling import wait_until
from floe_checks.tokens import hs256_token

CONTINUE_WAIT = "Continue wait"


__all__ = ["CONTINUE_WAIT", "CubeClient", "CubeError"]


class CubeClient:
    """Cube REST API client.

    Args:
        url: base URL, e.g. ``http://127.0.0.1:4000``.
        api_secret: ``CUBEJS_API_SECRET`` (or ``CUBEJS_PLAYGROUND_AUTH_SECRET``: a token signed
            with that one makes Cube include ``usedPreAggregations`` in its answers).
        timeout: total seconds one call may take, "Continue wait" rounds included.
        verify: a CA bundle path (``ca_bundle`` of the cube section) or whether to check the
            certificate; passed on every call so REQUESTS_CA_BUNDLE cannot override it.
    """

    def __init__(
        self,
        url: str,
        api_secret: SecretStr,
        timeout: float = 60.0,
        verify: bool | str = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_secret = api_secret
        self.timeout = timeout
        self.verify = verify
        self._session = requests.Session()

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": hs256_token(self.api_secret, ttl=3600),
            "Content-Type": "application/json",
        }

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call, repeated while Cube says "Continue wait" (bounded by ``timeout``)."""
        # Not wait_until: each request's own timeout is the time left until this deadline.
        deadline = time.monotonic() + self.timeout
        delay = 0.2
        while True:
            response = self._session.request(
                method,
                f"{self.url}/cubejs-api/v1{path}",
                headers=self._headers(),
                data=json.dumps(body) if body is not None else None,
                timeout=max(1.0, deadline - time.monotonic()),
                verify=self.verify,
            )
            try:
                answer = response.json()
            except ValueError:
                answer = {"error": response.text[:500]}
            error = answer.get("error") if isinstance(answer, dict) else None
            if error == CONTINUE_WAIT:
                if time.monotonic() + delay > deadline:
                    raise CubeStillWaiting(
                        f"Cube {path}: still 'Continue wait' after {self.timeout:.0f} s"
                    )
                time.sleep(delay)
                delay = min(delay * 1.5, 2.0)
                continue
            if response.status_code >= 400 or error:
                raise CubeRequestFailed(
                    f"Cube {path} answered HTTP {response.status_code}: {error or answer}"
                )
            return answer

    def load(self, query: dict[str, Any], renew: bool = False) -> dict[str, Any]:
        """Run a query (``POST /load``); the whole answer (``data``, ``usedPreAggregations``…).

        Args:
            query: a Cube query (``measures``, ``dimensions``, ``filters``…).
            renew: ``renewQuery: true``: skip Cube's result cache and re-check refresh keys.
        """
        body_query = dict(query)
        if renew:
            body_query["renewQuery"] = True
        answer: dict[str, Any] = self._call("POST", "/load", {"query": body_query})
        return answer

    def meta(self) -> dict[str, Any]:
        """The data model (``GET /meta``): cubes with their measures and dimensions."""
        answer: dict[str, Any] = self._call("GET", "/meta")
        return answer

    def run_pre_aggregation_jobs(
        self, selector: dict[str, Any] | None = None, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Build pre-aggregations now and wait until every job is done.

        ``POST /pre-aggregations/jobs`` with ``action: post`` returns job tokens; ``action: get``
        reports each job's status until none is pending.

        Args:
            selector: which pre-aggregations (default: every one, timezone UTC).
            timeout: seconds to wait for the jobs (default: the client's timeout).

        Returns:
            The final job records.
        """
        body = {
            "action": "post",
            "selector": selector or {"timezones": ["UTC"], "contexts": [{"securityContext": {}}]},
        }
        tokens = self._call("POST", "/pre-aggregations/jobs", body)
        if not isinstance(tokens, list):
            raise CubeError(f"Cube pre-aggregation jobs: unexpected answer {tokens!r}")
        if not tokens:
            return []
        statuses: list[str] = []

        def built() -> list[dict[str, Any]]:
            nonlocal statuses
            jobs: list[dict[str, Any]] = self._call(
                "POST", "/pre-aggregations/jobs", {"action": "get", "tokens": tokens}
            )
            statuses = [str(job.get("status", "")) for job in jobs]
            failed = [s for s in statuses if s.startswith("failure")]
            if failed:
                raise CubeError(f"Cube pre-aggregation build failed: {failed[0]}")
            return jobs if all(s in {"done", "missing_partition"} for s in statuses) else []

        done = wait_until(
            built, timeout=timeout or self.timeout, interval=0.3, factor=1.5, max_interval=2.0
        )
        if not done:
            raise CubeError(
                f"Cube pre-aggregation jobs not done after {timeout or self.timeout:.0f} s: "
                f"{sorted(set(statuses))}"
            )
        return done
