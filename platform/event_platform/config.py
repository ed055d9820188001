"""Typed stack configuration: what a `Pulumi.<stack>.yaml` may say, checked before anything is declared.

Each top-level key of the stack file under the `event-platform:` namespace maps to one section model
here (`event-platform:gateway` -> `GatewayConfig`). Keys are camelCase in YAML, snake_case in Python.
Every field documents what happens when it is omitted.

Two loaders build a `PlatformConfig`:

* `from_pulumi()`: inside `pulumi up/preview`, from the engine's decrypted config;
* `load_stack_file(path)`: offline (tests, render), from the YAML file itself. Values written as
  `secure:` ciphertext cannot be decrypted there; they become clearly-marked placeholders that are
  still handled as secrets all the way through.

Either way a bad value raises `ConfigError`, whose message has one line per problem naming the key,
the value and what was expected.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

PROJECT = "event-platform"

# Kubernetes versions whose OpenAPI schemas kubernetes-validate 1.37 ships: what we can validate against.
SUPPORTED_KUBERNETES_VERSIONS = ("1.32", "1.33", "1.34", "1.35", "1.36", "1.37")

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")


class ConfigError(ValueError):
    """A stack file says something the platform cannot build. The message is for humans, one line
    per problem."""


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError("a Kubernetes quantity such as 500m, 2, 512Mi or 10Gi")
    return value


_BYTE_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
               "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity_bytes(value: str) -> int:
    """A memory/storage quantity (`512Mi`, `1G`, `1073741824`) in bytes, for settings that a
    program rather than Kubernetes reads (Redis maxmemory, Postgres shared_buffers)."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(k|[KMGT]i|[MGT])?", value)
    if not match:
        raise ValueError(f"{value!r}: expected a byte quantity such as 512Mi, 1Gi or 1G")
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2) or ""])


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError("a DNS label: lowercase letters, digits and '-', at most 63 characters")
    return value


def _hostname(value: str) -> str:
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise ValueError("a lowercase DNS hostname such as events.example.com")
    return value


def _image_reference(value: str) -> str:
    last = value.rsplit("/", 1)[-1]
    if not re.fullmatch(r"[^\s@:]+(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?", last) or \
            not (":" in last or "@sha256:" in last):
        raise ValueError("an image reference with an explicit tag or digest, e.g. registry/app:1.4.2")
    if last.endswith(":latest"):
        raise ValueError("an explicit version tag, not :latest (a rollout must be reproducible)")
    return value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError("a Prometheus duration such as 15d, 12h or 30m")
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Hostname = Annotated[str, AfterValidator(_hostname)]
Duration = Annotated[str, AfterValidator(_duration)]
ImageReference = Annotated[str, AfterValidator(_image_reference)]


class Model(BaseModel):
    """Base of every config model: immutable, unknown keys rejected, camelCase in YAML."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        hide_input_in_errors=False,
    )


# ----------------------------------------------------------------------------------------- cluster
class ClusterConfig(Model):
    type: Literal["kind", "managed"]
    """`kind`: a local kind cluster (NodePort front door, local registry, single node). `managed`: a
    real cluster (LoadBalancer front door, replicated data). Required: nothing sensible to guess."""

    name: DnsLabel = "event-platform"
    """Cluster name; for kind also the name of the kind cluster the bring-up script creates.
    Omitted: `event-platform`."""

    kubernetes_version: Literal[SUPPORTED_KUBERNETES_VERSIONS] = "1.34"  # type: ignore[valid-type]
    """Minor version of the cluster's API server; manifests are validated against its schemas.
    Omitted: 1.34."""

    storage_class: str | None = None
    """StorageClass for every PersistentVolumeClaim the platform declares. Omitted: the cluster's
    default class (kind's `standard`)."""


# -------------------------------------------------------------------------------------- namespaces
class ResourceQuotaConfig(Model):
    """Hard limits for one namespace, so one environment cannot starve another."""

    requests_cpu: Quantity = "4"
    """Sum of CPU requests. Omitted: 4 cores."""
    requests_memory: Quantity = "8Gi"
    """Sum of memory requests. Omitted: 8Gi."""
    limits_cpu: Quantity = "8"
    """Sum of CPU limits. Omitted: 8 cores."""
    limits_memory: Quantity = "16Gi"
    """Sum of memory limits. Omitted: 16Gi."""
    pods: int = Field(default=50, ge=1)
    """Number of pods. Omitted: 50."""
    persistent_volume_claims: int = Field(default=10, ge=0)
    """Number of PVCs. Omitted: 10."""
    requests_storage: Quantity = "100Gi"
    """Sum of PVC storage requests. Omitted: 100Gi."""


class LimitRangeConfig(Model):
    """Per-container defaults and ceilings, so a container without resources still gets sane ones."""

    default_request_cpu: Quantity = "100m"
    """CPU request given to a container that names none. Omitted: 100m."""
    default_request_memory: Quantity = "128Mi"
    """Memory request given to a container that names none. Omitted: 128Mi."""
    default_limit_cpu: Quantity = "500m"
    """CPU limit given to a container that names none. Omitted: 500m."""
    default_limit_memory: Quantity = "512Mi"
    """Memory limit given to a container that names none. Omitted: 512Mi."""
    max_cpu: Quantity = "2"
    """Largest CPU limit one container may ask for. Omitted: 2 cores."""
    max_memory: Quantity = "4Gi"
    """Largest memory limit one container may ask for. Omitted: 4Gi."""


class AppNamespaceConfig(Model):
    """One app environment: a namespace the apps of one environment (dev, staging, production) run in."""

    name: DnsLabel
    """Namespace name, also the environment's name. Required."""
    quota: ResourceQuotaConfig = ResourceQuotaConfig()
    """Omitted: the ResourceQuotaConfig defaults."""
    limits: LimitRangeConfig = LimitRangeConfig()
    """Omitted: the LimitRangeConfig defaults."""
    developer_groups: tuple[str, ...] = ()
    """Groups (from the cluster's authenticator) bound to the `developer` role. Omitted: nobody."""
    developer_access: Literal["edit", "operate"] = "edit"
    """What the `developer` role may do (docs/tenancy.md has the access matrix). `edit`: deploy and
    change workloads directly, which includes reading every Secret a pod of the namespace can mount.
    `operate`: read, logs and restarting pods through the eviction API; changes go through `pulumi up`,
    and no Secret is reachable. Omitted: edit (set `operate` for production)."""
    viewer_groups: tuple[str, ...] = ()
    """Groups bound to the read-only `viewer` role. Omitted: nobody."""


class PlatformNamespacesConfig(Model):
    """Names of the namespaces the platform's own pieces run in."""

    gateway: DnsLabel = "gateway"
    """The Gateway controller and the Gateway. Omitted: `gateway`."""
    monitoring: DnsLabel = "monitoring"
    """Prometheus, Alertmanager, Grafana, Loki, Alloy. Omitted: `monitoring`."""
    databases: DnsLabel = "cnpg-system"
    """The CloudNativePG operator. Omitted: `cnpg-system`."""
    secrets: DnsLabel = "external-secrets"
    """The External Secrets Operator. Omitted: `external-secrets`."""
    cert_manager: DnsLabel = "cert-manager"
    """cert-manager, installed only when the gateway asks for TLS. Omitted: `cert-manager`."""


class NamespacesConfig(Model):
    apps: tuple[AppNamespaceConfig, ...] = Field(min_length=1)
    """App environments. Required: at least one."""
    platform: PlatformNamespacesConfig = PlatformNamespacesConfig()
    """Omitted: the default platform namespace names."""

    @model_validator(mode="after")
    def _unique_names(self) -> NamespacesConfig:
        names = [ns.name for ns in self.apps] + list(self.platform.model_dump().values())
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"namespace names used twice: {', '.join(duplicates)}; expected unique names")
        return self

    @property
    def app_names(self) -> tuple[str, ...]:
        return tuple(ns.name for ns in self.apps)


# ----------------------------------------------------------------------------------------- gateway
class TlsConfig(Model):
    """HTTPS on the Gateway with a certificate from cert-manager."""

    issuer: Literal["self-signed", "letsencrypt-staging", "letsencrypt"] = "self-signed"
    """Which ClusterIssuer signs the Gateway's certificate. Omitted: a self-signed issuer (no
    internet needed; browsers will warn)."""
    acme_email: str | None = None
    """Account e-mail for Let's Encrypt. Required when the issuer is a Let's Encrypt one."""

    @model_validator(mode="after")
    def _acme_needs_email(self) -> TlsConfig:
        if self.issuer.startswith("letsencrypt") and not self.acme_email:
            raise ValueError(f"issuer {self.issuer} needs acmeEmail; expected an e-mail address")
        return self


class GatewayConfig(Model):
    domain: Hostname
    """Parent domain of every hostname the platform serves (`events.<domain>`, `grafana.<domain>`).
    Required. dev: `localtest.me`, whose names all resolve to 127.0.0.1."""
    service_type: Literal["NodePort", "LoadBalancer"] = "LoadBalancer"
    """How the gateway's data plane is exposed. Omitted: LoadBalancer (a real cluster)."""
    http_node_port: int = Field(default=30080, ge=30000, le=32767)
    """NodePort for HTTP when service_type is NodePort; the kind config maps it to the host.
    Omitted: 30080."""
    https_node_port: int = Field(default=30443, ge=30000, le=32767)
    """NodePort for HTTPS when service_type is NodePort. Omitted: 30443."""
    tls: TlsConfig | None = None
    """Omitted: HTTP only."""
    replicas: int = Field(default=1, ge=1, le=10)
    """nginx data-plane replicas behind the Gateway (the front door survives a node only with 2+).
    Omitted: 1."""

    @model_validator(mode="after")
    def _node_ports_differ(self) -> GatewayConfig:
        if self.service_type == "NodePort" and self.http_node_port == self.https_node_port:
            raise ValueError(f"httpNodePort and httpsNodePort are both {self.http_node_port}; expected two "
                             "different ports")
        return self


# ----------------------------------------------------------------------------------- observability
class ResourcesConfig(Model):
    """Requests and limits of one container."""

    cpu: Quantity
    memory: Quantity
    cpu_limit: Quantity | None = None
    """Omitted: no CPU limit (throttling hurts latency more than sharing does)."""
    memory_limit: Quantity | None = None
    """Omitted: equal to the memory request."""

    def as_kubernetes(self) -> dict[str, dict[str, str]]:
        limits = {"memory": self.memory_limit or self.memory}
        if self.cpu_limit:
            limits["cpu"] = self.cpu_limit
        return {"requests": {"cpu": self.cpu, "memory": self.memory}, "limits": limits}


class PrometheusConfig(Model):
    retention: Duration = "7d"
    """How long samples are kept. Omitted: 7d."""
    storage_size: Quantity = "10Gi"
    """Size of Prometheus's volume. Omitted: 10Gi."""
    resources: ResourcesConfig = ResourcesConfig(cpu="200m", memory="1Gi", memory_limit="2Gi")
    """Omitted: 200m CPU, 1Gi memory (2Gi limit)."""


class LokiS3Config(Model):
    """Object storage for Loki's chunks and index (prod). Credentials never come from here: Loki's
    service account assumes `role_arn` (IRSA), or the node's own role when that is omitted."""

    bucket: str
    region: str
    endpoint: str | None = None
    """Omitted: the AWS endpoint for the region."""
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$")
    """IAM role annotated on Loki's service account (IRSA). Omitted: no annotation; the AWS SDK's
    default chain (e.g. the node's instance role) must grant the bucket."""


class LokiConfig(Model):
    retention: Duration = "7d"
    """How long logs are kept. Omitted: 7d."""
    storage_size: Quantity = "10Gi"
    """Size of Loki's volume (all data with filesystem storage, WAL and cache with S3). Omitted: 10Gi."""
    s3: LokiS3Config | None = None
    """Omitted: filesystem storage on Loki's own volume (fine for dev, not for prod)."""
    resources: ResourcesConfig = ResourcesConfig(cpu="100m", memory="256Mi", memory_limit="1Gi")
    """Of the single Loki process. Omitted: 100m CPU, 256Mi memory (1Gi limit)."""

    @model_validator(mode="after")
    def _whole_days(self) -> LokiConfig:
        # Loki deletes whole index tables (24h each): retention must be a multiple of a day.
        amount, unit = int(re.match(r"[0-9]+", self.retention).group()), self.retention.lstrip("0123456789")
        hours = amount * {"ms": 0, "s": 0, "m": 0, "h": 1, "d": 24, "w": 168, "y": 8760}[unit]
        if unit in ("ms", "s", "m") or hours == 0 or hours % 24:
            raise ValueError(f"loki.retention {self.retention}: expected whole days, e.g. 7d, 14d or 2w")
        return self


class AlertReceiverConfig(Model):
    """Where Alertmanager sends alerts. The URL is a secret held in the secret store under
    `secret_key`, never in the stack file."""

    name: DnsLabel
    type: Literal["slack", "webhook"]
    secret_key: str
    """Name of the entry in the secret store that holds the webhook URL."""
    secret_property: str = "url"
    """Property of that entry holding the URL. Omitted: `url`."""


class ObservabilityConfig(Model):
    prometheus: PrometheusConfig = PrometheusConfig()
    loki: LokiConfig = LokiConfig()
    grafana_hostname: Hostname | None = None
    """Omitted: `grafana.<gateway.domain>`."""
    alert_receivers: tuple[AlertReceiverConfig, ...] = ()
    """Omitted: alerts are visible in Alertmanager's UI only."""


# ---------------------------------------------------------------------------------------- postgres
class PostgresBackupConfig(Model):
    """Continuous backup (WAL archive + base backups) to S3-compatible object storage."""

    destination_path: str = Field(pattern=r"^s3://")
    """e.g. s3://backups/event-platform. Required when backups are on."""
    endpoint_url: str | None = None
    """Omitted: AWS S3."""
    credentials_secret_key: str = "postgres-backup"
    """Entry in the secret store with ACCESS_KEY_ID and ACCESS_SECRET_KEY. Omitted: `postgres-backup`."""
    retention: str = Field(default="30d", pattern=r"^[1-9][0-9]*[dwm]$")
    """How long backups are kept. Omitted: 30d."""
    schedule: str = Field(default="0 0 3 * * *", pattern=r"^\S+( \S+){5}$")
    """When the daily base backup runs: CloudNativePG's six-field cron, seconds first.
    Omitted: 03:00 every day."""


class PostgresConfig(Model):
    instances: int = Field(default=1, ge=1, le=9)
    """Postgres instances per app environment (1 primary + replicas). Omitted: 1."""
    storage_size: Quantity = "5Gi"
    """Volume per instance. Omitted: 5Gi."""
    resources: ResourcesConfig = ResourcesConfig(cpu="250m", memory="512Mi", memory_limit="1Gi")
    backup: PostgresBackupConfig | None = None
    """Omitted: no backups (dev)."""
    pod_anti_affinity: Literal["preferred", "required"] = "preferred"
    """Whether two instances of one cluster may share a node: `required` never (an instance stays
    Pending until a node is free), `preferred` only when no other node has room. Omitted: preferred
    (a one-node kind cluster)."""


class RedisConfig(Model):
    storage_size: Quantity = "1Gi"
    """Volume per Redis pod. Omitted: 1Gi."""
    max_memory: Quantity = "256Mi"
    """Redis's own `maxmemory`; the container limit gets headroom above it. Omitted: 256Mi."""
    password_rotation: int = Field(default=0, ge=0)
    """How many times the password was rotated (docs/data-and-secrets.md, "Rotating the Redis
    password"): raising it rolls Redis, then the collector, onto the store's current password.
    Omitted: 0 (never rotated)."""


# ----------------------------------------------------------------------------------------- secrets
class KubernetesStoreConfig(Model):
    """Secrets read from a platform-owned namespace of the same cluster (dev: no cloud account).
    The platform seeds that namespace with generated random values."""

    provider: Literal["kubernetes"]
    namespace: DnsLabel = "platform-secrets"
    """Namespace that holds the source Secrets. Omitted: `platform-secrets`."""


class VaultStoreConfig(Model):
    """HashiCorp Vault, KV v2, Kubernetes auth."""

    provider: Literal["vault"]
    server: str = Field(pattern=r"^https?://")
    path: str = "secret"
    """KV v2 mount. Omitted: `secret`."""
    role: str = "external-secrets"
    """Vault Kubernetes-auth role. Omitted: `external-secrets`."""


class AwsStoreConfig(Model):
    """AWS Secrets Manager, with the operator's service account assuming an IAM role (IRSA)."""

    provider: Literal["aws"]
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$")
    """Role annotated on the operator's service account."""


SecretStoreConfig = Annotated[
    KubernetesStoreConfig | VaultStoreConfig | AwsStoreConfig, Field(discriminator="provider")
]


class SecretsConfig(Model):
    store: SecretStoreConfig
    """Where secret values live. Required: the choice is the stack's."""
    key_prefix: str = ""
    """Prefix of every entry name in the store, e.g. `prod/`. Omitted: none."""


# --------------------------------------------------------------------------------------- collector
class RegistryConfig(Model):
    """Where the collector image is pushed and pulled from."""

    server: str
    """Registry host[:port]. dev: the kind cluster's local registry `localhost:5001`."""
    repository: str = "event-collector"
    """Omitted: `event-collector`."""
    username: str | None = None
    """Omitted: anonymous push (the local registry)."""
    password: SecretStr | None = None
    """Push password or token. Must be `secure:` in the stack file. Omitted: anonymous push."""
    pull_secret_key: str | None = None
    """Entry in the secret store holding a `.dockerconfigjson` that lets the cluster pull from this
    registry; each app namespace then gets it as an image pull Secret. Omitted: nodes pull on their
    own (the dev registry is anonymous; a cloud registry may grant the nodes' identity)."""


class CanaryConfig(Model):
    """A second version receiving a share of the traffic. Remove the block to fold traffic back."""

    image: ImageReference
    """Full image reference with an explicit tag or digest (never `latest`)."""
    weight: int = Field(ge=1, le=99)
    """Percent of requests sent to the canary (1-99)."""


class CollectorEnvironmentConfig(Model):
    """Per-environment settings of the collector."""

    hostname: Hostname
    """Host the environment's HTTPRoute serves. Required."""
    replicas: int = Field(default=2, ge=1, le=50)
    """Minimum replicas (the HPA's floor). Omitted: 2."""
    max_replicas: int = Field(default=6, ge=1, le=100)
    """The HPA's ceiling. Omitted: 6."""
    canary: CanaryConfig | None = None
    """Omitted: all traffic to the stable version."""

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> CollectorEnvironmentConfig:
        if self.max_replicas < self.replicas:
            raise ValueError(f"maxReplicas {self.max_replicas} is below replicas {self.replicas}; "
                             "expected maxReplicas >= replicas")
        return self


class CollectorConfig(Model):
    registry: RegistryConfig
    environments: dict[DnsLabel, CollectorEnvironmentConfig]
    """One entry per app namespace, keyed by its name. Required."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Omitted: info."""
    retention_days: int = Field(default=30, ge=1, le=3650)
    """Events older than this are deleted. Omitted: 30."""
    max_batch_size: int = Field(default=500, ge=1, le=10000)
    """Most events in one POST. Omitted: 500."""
    resources: ResourcesConfig = ResourcesConfig(cpu="250m", memory="256Mi", memory_limit="512Mi")


# ------------------------------------------------------------------------------------------- stack
class PlatformConfig(Model):
    """Everything one stack says. The keys are the stack file's `event-platform:<key>` entries."""

    stack: DnsLabel
    """The stack's name (dev, prod); not a stack file key, filled in by the loaders."""
    cluster: ClusterConfig
    namespaces: NamespacesConfig
    gateway: GatewayConfig
    observability: ObservabilityConfig = ObservabilityConfig()
    postgres: PostgresConfig = PostgresConfig()
    redis: RedisConfig = RedisConfig()
    secrets: SecretsConfig
    collector: CollectorConfig

    @model_validator(mode="after")
    def _cross_checks(self) -> PlatformConfig:
        apps = set(self.namespaces.app_names)
        envs = set(self.collector.environments)
        if envs != apps:
            raise ValueError(
                f"collector.environments names {sorted(envs)}; expected exactly the app namespaces {sorted(apps)}")
        if self.cluster.type == "managed":
            # One replica behind a PDB blocks node drains, and one Postgres instance is no HA.
            for name, env in self.collector.environments.items():
                if env.replicas < 2:
                    raise ValueError(f"collector.environments.{name}.replicas is {env.replicas} on a managed "
                                     "cluster; expected at least 2 so a node can fail or drain")
        return self


# ----------------------------------------------------------------------------------------- loading
class _OfflineSecret(str):
    """Stands in for a `secure:` value that cannot be decrypted without the Pulumi engine."""


def _replace_secure(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return _OfflineSecret(f"offline-placeholder-for-{path}")
        return {k: _replace_secure(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def from_mapping(stack: str, config: dict[str, Any], source: str) -> PlatformConfig:
    """Builds the config from `{"event-platform:<key>": value}` (other namespaces are ignored:
    `kubernetes:context` is the provider's). `source` names the file in error messages."""
    prefix = f"{PROJECT}:"
    sections = {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
    try:
        return PlatformConfig.model_validate({"stack": stack, **sections})
    except ValidationError as err:
        raise ConfigError("\n".join(f"{source}: {line}" for line in _describe(err))) from None


def load_stack_file(path: str | Path) -> PlatformConfig:
    """Reads `Pulumi.<stack>.yaml` without the Pulumi engine (tests, render)."""
    path = Path(path)
    match = re.fullmatch(r"Pulumi\.([\w.-]+)\.yaml", path.name)
    if not match:
        raise ConfigError(f"{path}: expected a stack file named Pulumi.<stack>.yaml")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read the stack file: {err}") from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a top-level `config:` mapping")
    return from_mapping(match.group(1), _replace_secure(config, "config"), path.name)


def from_pulumi() -> PlatformConfig:
    """Reads the running stack's config (already decrypted by the engine)."""
    import json

    import pulumi
    from pulumi.runtime.config import CONFIG

    raw = {}
    for key, value in CONFIG.get().items():
        try:
            raw[key] = json.loads(value)
        except (TypeError, ValueError):
            raw[key] = value  # a plain string value
    return from_mapping(pulumi.get_stack(), raw, f"Pulumi.{pulumi.get_stack()}.yaml")


def _describe(err: ValidationError) -> list[str]:
    """One readable line per pydantic error: key, value, expectation."""
    lines = []
    for e in err.errors(include_url=False):
        if e["type"] == "too_short" and "after validation" in e["msg"] and len(err.errors()) > 1:
            continue  # a follow-on of an item's own error, which is reported already
        loc = [str(p) for p in e["loc"] if not str(p).startswith(("function-", "tagged-union"))]
        # discriminated unions put the chosen tag into the location; it is not a key of the file
        loc = [p for p in loc if p not in {"kubernetes", "vault", "aws"} or loc.index(p) == 0]
        key = f"{PROJECT}:{'.'.join(loc)}" if loc else f"{PROJECT}"
        kind, msg = e["type"], e["msg"]
        value = e.get("input")
        shown = "[secret]" if _may_be_secret(e["loc"], value) else repr(value)
        if kind == "extra_forbidden":
            lines.append(f"{key}: unknown key (value {shown}); expected one of: {_allowed_keys(e, err)}")
        elif kind == "missing":
            lines.append(f"{key}: required key is missing")
        else:
            expected = msg.removeprefix("Value error, ").removeprefix("Input should be ")
            if "expected" not in expected:
                expected = f"expected {expected}"
            lines.append(f"{key}: got {shown}; {expected}")
    return lines


_SECRET_NAME = re.compile(r"pass|pwd|token|secret|key|credential|auth", re.IGNORECASE)
"""Key names that say, or may say, the value is secret. `key` also catches `secretKey`-style names
that only name a store entry: redacting a harmless value costs a hint, showing a secret costs a leak."""


def _may_be_secret(loc: tuple[Any, ...], value: Any) -> bool:
    """May the value of an error at `loc` be secret? Yes when it holds a `secure:` value or a key named
    like a secret at any depth, when any key on its path is named like one, or when the model holding
    it has a secret field (an unknown `passwrd` beside `password` is a misspelt password)."""
    if _holds_secret(value) or any(_SECRET_NAME.search(str(part)) for part in loc):
        return True
    annotation: Any = PlatformConfig
    for part in loc[:-1]:
        annotation = _step(annotation, part)
    model = _as_model(annotation)
    return model is not None and any(_SECRET_NAME.search(name) or _is_secret_type(f.annotation)
                                     for name, f in model.model_fields.items())


def _is_secret_type(annotation: Any) -> bool:
    import typing

    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _holds_secret(value: Any) -> bool:
    """Is `value` a `secure:` placeholder, or does it contain one or a key named like a secret?"""
    if isinstance(value, _OfflineSecret):
        return True
    if isinstance(value, dict):
        return any(_SECRET_NAME.search(str(k)) or _holds_secret(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_secret(v) for v in value)
    return False


def _allowed_keys(error: Any, err: ValidationError) -> str:
    """The keys the model at the error's location accepts, for `unknown key` messages."""
    annotation: Any = PlatformConfig
    for part in error["loc"][:-1]:
        annotation = _step(annotation, part)
        if annotation is None:
            return "(see platform/event_platform/config.py)"
    model = _as_model(annotation)
    if model is None:
        return "(see platform/event_platform/config.py)"
    return ", ".join(f.alias or name for name, f in model.model_fields.items() if name != "stack")


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one location step below `annotation` (a field, an item, a value, a union member)."""
    import typing

    model = _as_model(annotation)
    if model is not None:
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        return field.annotation if field else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _step(args[0], part)
    if origin in (tuple, list):
        return args[0]
    if origin is dict:
        return args[1]
    # a discriminated union: the location names the chosen member by its tag
    for member in args:
        tag = getattr(_as_model(member), "model_fields", {}).get("provider")
        if tag is not None and part in typing.get_args(tag.annotation):
            return member
    return None


def _as_model(annotation: Any) -> Any:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) == 1 and len([a for a in args if a is not type(None)]) == 1:
        return models[0]  # Optional[Model]
    return None


if __name__ == "__main__":  # `python -m event_platform.config dev`: the stack's Kubernetes version
    import sys

    print(load_stack_file(Path(__file__).resolve().parents[2] / f"Pulumi.{sys.argv[1]}.yaml")
          .cluster.kubernetes_version)
