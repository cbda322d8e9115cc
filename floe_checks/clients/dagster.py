"""A small client of Dagster's GraphQL API: launch a job, wait for it, read schedules, runs,
materialisations, asset lineage and daemon health. Plain Python, no dagster import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from floe_checks.errors import (
    DagsterAnswerNotJson,
    DagsterError,
    DagsterJobNotFound,
    DagsterRunTimeout,
)
from floe_checks.polling import wait_until

TERMINAL_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}


__all__ = ["DagsterClient", "DagsterError", "JobLocation"]


@dataclass(frozen=True)
class JobLocation:
    """Where a job lives: code location (repository location) and repository."""

    location: str
    repository: str
    job: str

    def selector(self) -> dict[str, str]:
        return {
            "repositoryLocationName": self.location,
            "repositoryName": self.repository,
        }


class DagsterClient:
    """Dagster GraphQL client.

    Args:
        url: the webserver, e.g. ``http://127.0.0.1:3000``.
        timeout: seconds per HTTP request.
        verify: a CA bundle path (``ca_bundle`` of the dagster section) or whether to check
            the certificate; passed on every call so REQUESTS_CA_BUNDLE cannot override it.
    """

    def __init__(self, url: str, timeout: float = 30.0, verify: bool | str = True) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.verify = verify
        self._session = requests.Session()

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one GraphQL document; returns ``data`` or raises :class:`DagsterError`."""
        response = self._session.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=self.timeout,
            verify=self.verify,
        )
        try:
            answer = response.json()
        except ValueError:
            raise DagsterAnswerNotJson(
                f"Dagster GraphQL answered HTTP {response.status_code} without JSON"
            ) from None
        if answer.get("errors"):
            messages = "; ".join(str(e.get("message")) for e in answer["errors"])
            raise DagsterError(f"Dagster GraphQL error: {messages}")
        data: dict[str, Any] = answer["data"]
        return data

    # -- discovery ------------------------------------------------------------------------

    def find_job(self, job: str) -> JobLocation:
        """The code location and repository that hold ``job``."""
        data = self.query(
            """
            query { repositoriesOrError {
              __typename
              ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
              ... on PythonError { message }
            } }
            """
        )
        repos = data["repositoriesOrError"]
        if repos["__typename"] != "RepositoryConnection":
            raise DagsterError(f"Dagster cannot list repositories: {repos.get('message')}")
        for node in repos["nodes"]:
            if any(j["name"] == job for j in node["jobs"]):
                return JobLocation(node["location"]["name"], node["name"], job)
        raise DagsterJobNotFound(f"no Dagster repository has a job named {job!r}")

    # -- runs -----------------------------------------------------------------------------

    def launch_run(
        self,
        job: str,
        run_config: dict[str, Any] | None = None,
        step_keys: list[str] | None = None,
    ) -> str:
        """Launch ``job`` through ``launchRun``, only ``step_keys`` of it when given (an asset
        job's step keys are its asset functions' names); returns the run id."""
        where = self.find_job(job)
        params: dict[str, Any] = {
            "selector": {**where.selector(), "jobName": job},
            "runConfigData": run_config or {},
        }
        if step_keys is not None:
            params["stepKeys"] = step_keys
        data = self.query(
            """
            mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
              __typename
              ... on LaunchRunSuccess { run { runId } }
              ... on PythonError { message }
              ... on RunConfigValidationInvalid { errors { message } }
              ... on InvalidSubsetError { message }
              ... on PipelineNotFoundError { message }
              ... on UnauthorizedError { message }
            } }
            """,
            {"params": params},
        )
        result = data["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            detail = result.get("message") or result.get("errors")
            raise DagsterError(f"launchRun of {job!r} failed: {result['__typename']}: {detail}")
        run_id: str = result["run"]["runId"]
        return run_id

    def run_status(self, run_id: str) -> str:
        data = self.query(
            """
            query($id: ID!) { runOrError(runId: $id) {
              __typename ... on Run { status } ... on PythonError { message }
            } }
            """,
            {"id": run_id},
        )
        run = data["runOrError"]
        if run["__typename"] != "Run":
            raise DagsterError(f"run {run_id}: {run['__typename']} {run.get('message', '')}")
        status: str = run["status"]
        return status

    def wait_for_run(self, run_id: str, timeout: float = 300.0) -> str:
        """Poll until the run is SUCCESS, FAILURE or CANCELED (bounded); returns the status."""
        last = ""

        def finished() -> bool:
            nonlocal last
            last = self.run_status(run_id)
            return last in TERMINAL_STATUSES

        if not wait_until(finished, timeout=timeout, interval=0.5, factor=1.5, max_interval=3.0):
            raise DagsterRunTimeout(f"run {run_id} still {last} after {timeout:.0f} s")
        return last

    def run_failure_messages(self, run_id: str) -> list[str]:
        """Messages of the run's failure events (for a useful assertion message)."""
        data = self.query(
            """
            query($id: ID!) { logsForRun(runId: $id) {
              __typename
              ... on EventConnection { events { __typename
                ... on MessageEvent { message level } } }
            } }
            """,
            {"id": run_id},
        )
        logs = data["logsForRun"]
        if logs["__typename"] != "EventConnection":
            return []
        return [e["message"] for e in logs["events"] if e.get("level") in {"ERROR", "CRITICAL"}]

    def runs(self, job: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Recent runs (``runId``, ``jobName``, ``status``, ``startTime``, ``endTime`` — Unix
        seconds, ``None`` while not started/ended), newest first."""
        data = self.query(
            """
            query($filter: RunsFilter, $limit: Int) { runsOrError(filter: $filter, limit: $limit) {
              __typename ... on Runs { results { runId jobName status startTime endTime } }
              ... on PythonError { message }
            } }
            """,
            {"filter": {"pipelineName": job} if job else {}, "limit": limit},
        )
        runs = data["runsOrError"]
        if runs["__typename"] != "Runs":
            raise DagsterError(f"runsOrError: {runs.get('message')}")
        results: list[dict[str, Any]] = runs["results"]
        return results

    def run_materializations(self, run_id: str) -> list[str]:
        """Asset keys (``a/b``) the run materialised, in event order."""
        data = self.query(
            """
            query($id: ID!) { runOrError(runId: $id) {
              __typename ... on Run { assetMaterializations { assetKey { path } } }
            } }
            """,
            {"id": run_id},
        )
        run = data["runOrError"]
        if run["__typename"] != "Run":
            raise DagsterError(f"run {run_id}: {run['__typename']}")
        return ["/".join(m["assetKey"]["path"]) for m in run["assetMaterializations"]]

    def run_asset_check_results(self, run_id: str) -> dict[str, bool]:
        """Asset check (dbt test) name → passed, from the run's check evaluations."""
        data = self.query(
            """
            query($id: ID!) { logsForRun(runId: $id) {
              __typename
              ... on EventConnection { events { __typename
                ... on AssetCheckEvaluationEvent { evaluation { checkName success } } } }
            } }
            """,
            {"id": run_id},
        )
        logs = data["logsForRun"]
        if logs["__typename"] != "EventConnection":
            raise DagsterError(f"logsForRun {run_id}: {logs['__typename']}")
        results: dict[str, bool] = {}
        for event in logs["events"]:
            if event["__typename"] == "AssetCheckEvaluationEvent":
                evaluation = event["evaluation"]
                results[evaluation["checkName"]] = bool(evaluation["success"])
        return results

    # -- assets, schedules, daemon ---------------------------------------------------------

    def asset_graph(self) -> dict[str, list[str]]:
        """Asset key → the keys it depends on (upstream), as ``a/b`` strings."""
        data = self.query("query { assetNodes { assetKey { path } dependencyKeys { path } } }")
        return {
            "/".join(node["assetKey"]["path"]): [
                "/".join(dep["path"]) for dep in node["dependencyKeys"]
            ]
            for node in data["assetNodes"]
        }

    def asset_groups(self) -> dict[str, str]:
        """Asset key → group name."""
        data = self.query("query { assetNodes { assetKey { path } groupName } }")
        return {"/".join(n["assetKey"]["path"]): str(n["groupName"]) for n in data["assetNodes"]}

    def schedule(self, name: str, job: str) -> dict[str, Any]:
        """A schedule's ``cronSchedule``, ``executionTimezone`` and ``status`` (RUNNING/STOPPED)."""
        where = self.find_job(job)
        data = self.query(
            """
            query($selector: ScheduleSelector!) { scheduleOrError(scheduleSelector: $selector) {
              __typename
              ... on Schedule { name cronSchedule executionTimezone pipelineName
                                scheduleState { status } }
              ... on ScheduleNotFoundError { message }
              ... on PythonError { message }
            } }
            """,
            {"selector": {**where.selector(), "scheduleName": name}},
        )
        schedule = data["scheduleOrError"]
        if schedule["__typename"] != "Schedule":
            raise DagsterError(f"schedule {name!r}: {schedule.get('message')}")
        return {
            "name": schedule["name"],
            "cronSchedule": schedule["cronSchedule"],
            "executionTimezone": schedule["executionTimezone"],
            "job": schedule["pipelineName"],
            "status": schedule["scheduleState"]["status"],
        }

    def daemon_health(self) -> dict[str, bool]:
        """Daemon type (SCHEDULER, SENSOR, …) → healthy, as the instance reports it."""
        data = self.query(
            """
            query { instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }
            """
        )
        statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        return {s["daemonType"]: bool(s["healthy"]) for s in statuses}
