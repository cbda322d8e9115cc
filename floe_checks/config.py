"""floe.yaml: the environments a user deploys to, as typed pydantic models.

Rules (SPEC SC-004 and the foundation issue):

* unknown keys are errors, every section is optional and chosen by ``type``;
* a secret field accepts only an environment reference ``${VAR}`` and is held as ``SecretStr``;
* non-secret fields may use ``${VAR}`` or ``${VAR:-default}``;
* every problem becomes a :class:`~floe_checks.errors.ConfigError` naming the file, the dotted
  field path and the fix. Secret values never appear in a message: pydantic's own error text
  includes the input value, so messages are built here from ``errors(include_input=False)``.

Importing this module is cheap (pydantic and yaml only).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from floe_checks.errors import (
    ConfigError,
    ConfigFileNotFound,
    ConfigNotAMapping,
    ConfigYamlSyntax,
    EnvironmentEmpty,
    EnvironmentUnknown,
)

DEFAULT_CONFIG_FILE = "floe.yaml"
# The sections of an environment, in report order.
SECTIONS = ("compute", "storage", "catalog", "postgres", "cube", "dagster")
LOCAL_ENV = "local"

_SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ANY_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(value: Any) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in a non-secret string."""
    if not isinstance(value, str) or "${" not in value:
        return value

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise PydanticCustomError(
            "unset_variable",
            # pydantic fills {var} and keeps every other brace: "${" + "{var}" + ":-default}".
            "environment variable {var} is not set. Fix: export {var}, or write "
            "${{var}:-default} to give a default.",
            {"var": name},
        )

    return _ANY_REF.sub(repl, value)


def _resolve_secret(value: Any) -> Any:
    """Accept only ``${VAR}`` for a secret and read it from the environment."""
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str) or not _SECRET_REF.fullmatch(value):
        raise PydanticCustomError(
            "literal_secret",
            "a secret must be an environment reference such as {example}; a literal value "
            "in floe.yaml is not allowed (SC-004). Fix: move the value into an environment "
            "variable or your secret store and write {example} here.",
            {"example": "${MY_SECRET}"},
        )
    name = value[2:-1]
    if name not in os.environ:
        raise PydanticCustomError(
            "unset_variable",
            "environment variable {var} is not set. Fix: export {var} before running.",
            {"var": name},
        )
    return SecretStr(os.environ[name])


def _check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise PydanticCustomError(
            "port_range",
            "port {port} is out of range. Fix: use a TCP port from 1 to 65535.",
            {"port": value},
        )
    return value


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError(
            "http_url",
            "'{value}' is not an http(s) URL. Fix: write it as http://host:port/path or "
            "https://host/path.",
            {"value": value},
        )
    try:
        parts.port  # noqa: B018 -- urlsplit checks the port only when asked
    except ValueError:
        raise PydanticCustomError(
            "http_url",
            "'{value}' has an invalid port. Fix: use a TCP port from 1 to 65535.",
            {"value": value},
        ) from None
    return value


def _check_ca_bundle(value: str) -> str:
    """A ``ca_bundle`` must name a readable PEM file holding at least one certificate that
    OpenSSL loads: a wrong path would otherwise surface only as a TLS failure at connect time."""
    import ssl

    path = Path(value).expanduser()
    if not path.is_file():
        raise PydanticCustomError(
            "ca_bundle_missing",
            "CA bundle {path} does not exist or is not a file. Fix: point it at the PEM file "
            "of the CA that signed the service's certificate (relative paths are read from "
            "the working directory).",
            {"path": value},
        )
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        text = ""
    try:
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise ssl.SSLError("no certificate block")
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError:
        raise PydanticCustomError(
            "ca_bundle_pem",
            "CA bundle {path} is not a PEM file of certificates (no readable '-----BEGIN "
            "CERTIFICATE-----' block). Fix: export the CA certificate as PEM (e.g. "
            "`openssl x509 -in ca.der -inform der -out ca.pem`) and point at that file.",
            {"path": value},
        ) from None
    return str(path)


Text = Annotated[str, BeforeValidator(_interpolate)]
Int = Annotated[int, BeforeValidator(_interpolate)]
Port = Annotated[int, BeforeValidator(_interpolate), AfterValidator(_check_port)]
HttpURL = Annotated[str, BeforeValidator(_interpolate), AfterValidator(_check_http_url)]
Bool = Annotated[bool, BeforeValidator(_interpolate)]
Secret = Annotated[SecretStr, BeforeValidator(_resolve_secret)]
CaBundle = Annotated[str, BeforeValidator(_interpolate), AfterValidator(_check_ca_bundle)]


DEFAULT_EXPIRY_WARNING_DAYS = 30


def _whole_days(value: Any) -> Any:
    """``expiry_warning_days``: a whole number of days, 0 or more (``${VAR}`` allowed)."""
    value = _interpolate(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise PydanticCustomError(
        "whole_days",
        "{value} is not a whole number of days (0 or more). Fix: write e.g. 30 (warn 30 days "
        "before a certificate expires); 0 turns the warning off.",
        {"value": repr(value)},
    )


class TlsSettings(BaseModel):
    """``tls:`` of an environment: how preflight judges the certificates of its https
    endpoints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # a certificate with less time than this left is a warning (expired ones are errors)
    expiry_warning_days: Annotated[int, BeforeValidator(_whole_days)] = DEFAULT_EXPIRY_WARNING_DAYS


class Section(BaseModel):
    """A floe.yaml section. Remembers its dotted path and which env vars fed its fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    _path: str = PrivateAttr(default="")
    _refs: dict[str, str] = PrivateAttr(default_factory=dict)
    _tls: TlsSettings = PrivateAttr(default_factory=TlsSettings)

    @model_validator(mode="wrap")
    @classmethod
    def _capture_refs(cls, data: Any, handler: Any) -> Any:
        refs: dict[str, str] = {}
        if isinstance(data, Mapping):
            for key, raw in data.items():
                if isinstance(raw, str) and (m := _ANY_REF.fullmatch(raw)):
                    refs[str(key)] = m.group(1)
        instance = handler(data)
        instance._refs = refs
        return instance

    def field_path(self, name: str) -> str:
        """Dotted floe.yaml path of a field, e.g. ``environments.prod.postgres.password``."""
        return f"{self._path}.{name}" if self._path else name

    def environment_field(self, name: str) -> str:
        """Dotted path of an environment-level field, e.g.
        ``environments.prod.tls.expiry_warning_days``."""
        environment = self._path.rsplit(".", 1)[0] if "." in self._path else ""
        return f"{environment}.{name}" if environment else name

    def tls_settings(self) -> TlsSettings:
        """The ``tls:`` settings of the environment this section belongs to."""
        return self._tls

    def env_var(self, name: str) -> str | None:
        """The environment variable a field was read from, if it was written as ``${VAR}``."""
        return self._refs.get(name)

    def hint(self, name: str) -> str:
        """Where a user changes a field: its path and, when it has one, its variable."""
        var = self.env_var(name)
        return f"{self.field_path(name)} (${{{var}}})" if var else self.field_path(name)

    @model_validator(mode="after")
    def _one_way_to_trust(self) -> Section:
        if getattr(self, "ca_bundle", None) and getattr(self, "verify", True) is False:
            raise PydanticCustomError(
                "tls_conflict",
                "ca_bundle and verify: false contradict each other. Fix: drop verify: false "
                "(ca_bundle already makes the certificate trusted), or drop ca_bundle.",
            )
        return self

    def tls_verify(self) -> bool | str:
        """What an HTTP client's ``verify`` gets: the ``ca_bundle`` path when set, else the
        section's ``verify`` flag (True for sections without one)."""
        bundle = getattr(self, "ca_bundle", None)
        if bundle:
            return str(bundle)
        return bool(getattr(self, "verify", True))


# --- compute ---------------------------------------------------------------------------


class TrinoCompute(Section):
    type: Literal["trino"]
    host: Text
    port: Port = 8080
    user: Text = "floe"
    http_scheme: Literal["http", "https"] = "http"
    password: Secret | None = None
    jwt: Secret | None = None
    catalog: Text | None = None
    schema_: Text | None = Field(default=None, alias="schema")
    verify: Bool = True
    ca_bundle: CaBundle | None = None  # PEM of a private CA the coordinator's certificate is from


class SnowflakeCompute(Section):
    type: Literal["snowflake"]
    account: Text
    user: Text
    password: Secret | None = None
    private_key_path: Text | None = None
    private_key_passphrase: Secret | None = None
    warehouse: Text | None = None
    role: Text | None = None
    database: Text | None = None
    schema_: Text | None = Field(default=None, alias="schema")
    # host/port/protocol only for private links and local emulators.
    host: Text | None = None
    port: Port | None = None
    protocol: Literal["https", "http"] = "https"


class BigQueryCompute(Section):
    type: Literal["bigquery"]
    project: Text
    credentials_file: Text | None = None
    location: Text | None = None
    api_endpoint: HttpURL | None = None
    anonymous: Bool = False  # only for emulators: skip Google credential discovery


class DuckDBCompute(Section):
    type: Literal["duckdb"]
    path: Text = ":memory:"
    read_write: Bool = False


Compute = Annotated[
    TrinoCompute | SnowflakeCompute | BigQueryCompute | DuckDBCompute,
    Field(discriminator="type"),
]

# --- storage ---------------------------------------------------------------------------


class S3Storage(Section):
    type: Literal["s3"]
    bucket: Text
    region: Text = "us-east-1"
    endpoint_url: HttpURL | None = None
    path_style: Bool = False
    prefix: Text = "floe-preflight/"
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None
    ca_bundle: CaBundle | None = None  # PEM trusting endpoint_url's certificate


class GCSStorage(Section):
    type: Literal["gcs"]
    bucket: Text
    project: Text | None = None
    credentials_file: Text | None = None
    endpoint: HttpURL | None = None  # emulator URL; real GCS when unset
    prefix: Text = "floe-preflight/"


class ADLSStorage(Section):
    type: Literal["adls"]
    account: Text
    container: Text
    account_key: Secret | None = None
    sas_token: Secret | None = None
    endpoint: HttpURL | None = None  # blob endpoint override (Azurite, sovereign clouds)
    prefix: Text = "floe-preflight/"


Storage = Annotated[S3Storage | GCSStorage | ADLSStorage, Field(discriminator="type")]

# --- catalog, postgres, cube, dagster --------------------------------------------------


class RestCatalog(Section):
    type: Literal["polaris", "iceberg-rest"]
    uri: HttpURL
    client_id: Text
    client_secret: Secret
    scope: Text = "PRINCIPAL_ROLE:ALL"
    warehouse: Text | None = None
    oauth2_server_uri: HttpURL | None = None  # defaults to {uri}/v1/oauth/tokens
    namespace: Text | None = None  # when set, preflight also checks that it exists
    verify: Bool = True
    ca_bundle: CaBundle | None = None
    # opt-in: also write, read back and drop a scratch table (--floe-write / --write for a run)
    write_check: Bool = False

    # the environment's storage section: where data files go when the catalog vends nothing
    _storage: Section | None = PrivateAttr(default=None)

    def storage_section(self) -> Section | None:
        """The ``storage:`` section of the environment this catalog belongs to, if any."""
        return self._storage


class PostgresSection(Section):
    host: Text
    port: Port = 5432
    user: Text
    password: Secret | None = None
    database: Text = "dagster"
    schema_: Text = Field(default="public", alias="schema")
    sslmode: Text = "prefer"


class CubeSection(Section):
    url: HttpURL
    api_secret: Secret
    ca_bundle: CaBundle | None = None


class DagsterSection(Section):
    url: HttpURL
    ca_bundle: CaBundle | None = None


class Environment(BaseModel):
    """One deployment target: every section is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    compute: Compute | None = None
    storage: Storage | None = None
    catalog: RestCatalog | None = None
    postgres: PostgresSection | None = None
    cube: CubeSection | None = None
    dagster: DagsterSection | None = None
    tls: TlsSettings = TlsSettings()

    _name: str = PrivateAttr(default="")
    _unvalidated_secrets: list[str] = PrivateAttr(default_factory=list)

    @property
    def name(self) -> str:
        return self._name

    def unvalidated_secrets(self) -> list[str]:
        """Secret values named by sections this run did not validate (``--check-*``)."""
        return list(self._unvalidated_secrets)

    def sections(self) -> dict[str, Section]:
        """The configured sections, by name, in file order of the model."""
        out: dict[str, Section] = {}
        for key in SECTIONS:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class FloeFile(BaseModel):
    """The file's outline. Environments stay raw until one is selected, so that a mistake or
    an unset variable in ``staging`` does not stop a run against ``prod``."""

    model_config = ConfigDict(extra="forbid")

    environments: dict[str, dict[str, Any]] = Field(default_factory=dict)


def builtin_local() -> Environment:
    """The embedded local stack's environment.

    Its servers pick free ports when the end-to-end stack starts, so the static part is only
    the embedded compute engine; the stack provider adds the endpoints it started.
    """
    env = Environment.model_validate({"compute": {"type": "duckdb"}})
    _bind(env, LOCAL_ENV)
    return env


def _bind(env: Environment, name: str) -> None:
    env._name = name
    for key, section in env.sections().items():
        section._path = f"environments.{name}.{key}"
        section._tls = env.tls
    if env.catalog is not None:
        env.catalog._storage = env.storage


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        text = str(item)
        # Discriminated unions insert the tag ('trino') into the location: drop it.
        tags = {"trino", "snowflake", "bigquery", "duckdb", "s3", "gcs", "adls"}
        if text in tags and parts and parts[-1] in {"compute", "storage"}:
            continue
        if text.startswith("function-"):
            continue
        parts.append(text)
    return ".".join(parts)


_FIXES = {
    "extra_forbidden": "remove the key or correct its spelling",
    "missing": "add the field",
    "union_tag_invalid": "use one of the supported types named above",
    "union_tag_not_found": "add a 'type' field",
}


_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "catalog": RestCatalog,
    "postgres": PostgresSection,
    "cube": CubeSection,
    "dagster": DagsterSection,
    "tls": TlsSettings,  # not a service: environment-wide settings, listed for the key hints
}
_TYPED_MODELS: dict[str, dict[str, type[BaseModel]]] = {
    "compute": {
        "trino": TrinoCompute,
        "snowflake": SnowflakeCompute,
        "bigquery": BigQueryCompute,
        "duckdb": DuckDBCompute,
    },
    "storage": {"s3": S3Storage, "gcs": GCSStorage, "adls": ADLSStorage},
}


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a misspelt key's mapping accepts (so the message needs no docs at hand)."""
    parts = [str(p) for p in loc if not str(p).startswith("function-")]
    if len(parts) == 1:
        return _keys_of(Environment)
    if len(parts) == 2 and parts[0] in _SECTION_MODELS:
        return _keys_of(_SECTION_MODELS[parts[0]])
    if len(parts) == 3 and parts[1] in _TYPED_MODELS.get(parts[0], {}):
        return _keys_of(_TYPED_MODELS[parts[0]][parts[1]])
    return []


def _config_error_from_validation(file: str, exc: ValidationError, prefix: str = "") -> ConfigError:
    problems: list[tuple[str, str, str]] = []
    for err in exc.errors(include_input=False, include_url=False):
        path = prefix + _loc_to_path(tuple(err["loc"]))
        msg = err["msg"]
        fix = _FIXES.get(err["type"], "")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(tuple(err["loc"]))
            if allowed:
                fix += "; allowed here: " + ", ".join(allowed)
        if err["type"] == "union_tag_invalid":
            ctx = err.get("ctx") or {}
            msg = f"unknown type {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        problems.append((path, msg, fix))
    if len(problems) == 1:
        path, msg, fix = problems[0]
        return ConfigError(file, msg, field=path, remediation=fix or None)
    # Several problems: one line each, so a user can fix them all in one go.
    lines = [
        f"{path}: {msg.rstrip('.')}." + (f" Fix: {fix}." if fix else "")
        for path, msg, fix in problems
    ]
    return ConfigError(file, f"{len(problems)} problems:\n  " + "\n  ".join(lines))


def load_file(path: Path) -> FloeFile:
    """Read and validate a floe.yaml file.

    Raises:
        ConfigError: the file is missing, not YAML, or does not validate.
    """
    file = str(path)
    if not path.is_file():
        raise ConfigFileNotFound(file, "file not found.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        raise ConfigYamlSyntax(file, f"YAML syntax error at {where}: {exc.problem}.") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(file, f"not valid YAML ({type(exc).__name__}).") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigNotAMapping(file, "the top level must be a mapping with an 'environments' key.")
    try:
        return FloeFile.model_validate(raw)
    except ValidationError as exc:
        raise _config_error_from_validation(file, exc) from None


def _secret_fields() -> frozenset[str]:
    models = [*_SECTION_MODELS.values()] + [
        model for typed in _TYPED_MODELS.values() for model in typed.values()
    ]
    return frozenset(
        name
        for model in models
        for name, info in model.model_fields.items()
        if "SecretStr" in str(info.annotation)
    )


def _referenced_secrets(raw: Mapping[str, Any]) -> list[str]:
    """The values of the set variables that secret fields of unvalidated sections name, so that
    they are scrubbed from a run that does not check those sections."""
    secret_fields = _secret_fields()
    values: list[str] = []
    for section in raw.values():
        if not isinstance(section, Mapping):
            continue
        for key, value in section.items():
            if key in secret_fields and isinstance(value, str):
                match = _SECRET_REF.fullmatch(value)
                if match and os.environ.get(match.group(1)):
                    values.append(os.environ[match.group(1)])
    return values


_OFF = (None, False, "false", "False", "no", "0", 0)


def validate_environment(
    file: str,
    name: str,
    raw: dict[str, Any],
    services: Sequence[str] = (),
    *,
    write: bool = False,
) -> Environment:
    """Validate one environment's raw mapping (variables are read now).

    Args:
        file: the file it came from, for messages.
        name: the environment's name.
        raw: its mapping from floe.yaml.
        services: validate only these sections (and read only their variables); the other
            sections are left alone. Empty: every section. A selected catalog whose data path
            is on (``write_check``, or ``write``) brings the storage section along.
        write: the run turns the catalog's data path on (``--floe-write``, ``--write``).

    Raises:
        ConfigError: the environment is empty or a validated section is wrong.
    """
    if not any(key != "tls" for key in raw):  # nothing configured, or only tls:
        raise EnvironmentEmpty(file, "no service is configured.", field=f"environments.{name}")
    picked = raw
    if services:
        services = list(services)
        catalog = raw.get("catalog")
        writes = write or (isinstance(catalog, Mapping) and catalog.get("write_check") not in _OFF)
        if "catalog" in services and writes:
            services.append("storage")  # the data path writes with the storage section's keys
        # Unknown keys stay in, so a misspelt section name is still reported.
        picked = {k: v for k, v in raw.items() if k in services or k not in SECTIONS}
    try:
        env = Environment.model_validate(picked)
    except ValidationError as exc:
        raise _config_error_from_validation(file, exc, f"environments.{name}.") from None
    _bind(env, name)
    env._unvalidated_secrets = _referenced_secrets(
        {k: v for k, v in raw.items() if k not in picked}
    )
    return env


def load_environment(
    path: Path, name: str, services: Sequence[str] = (), *, write: bool = False
) -> Environment:
    """Resolve one environment by name.

    ``local`` is built in and needs no file; a ``local`` entry in floe.yaml overrides it.
    With ``services``, only those sections are validated (see :func:`validate_environment`).

    Raises:
        ConfigError: the file is wrong or the environment is not defined in it.
    """
    if name == LOCAL_ENV and not path.is_file():
        return builtin_local()
    model = load_file(path)
    if name in model.environments:
        raw = model.environments[name] or {}
        return validate_environment(str(path), name, raw, services, write=write)
    if name == LOCAL_ENV:
        return builtin_local()
    defined = sorted([*model.environments, LOCAL_ENV])
    raise EnvironmentUnknown(
        str(path),
        f"environment {name!r} is not defined.",
        field=f"environments.{name}",
        defined=", ".join(defined),
    )
