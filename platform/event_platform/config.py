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
from typing import Annotated, Any, Literal, Self

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


class PlacedError(ValueError):
    """A model check's error that knows its key (absolute, or relative to the model when it starts
    with `.`) and the offending value (never a secret one), so the message names them instead of
    echoing the whole section."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        super().__init__(f"expected {expected}")
        self.key, self.value, self.expected = key, value, expected


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


AWS_LB = "service.beta.kubernetes.io/aws-load-balancer-"
_QUALIFIED_NAME = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _annotation_key(value: str) -> str:
    if not _QUALIFIED_NAME.match(value) or len(value.partition("/")[0]) > 253:
        raise ValueError("an annotation key: [prefix/]name, name at most 63 characters")
    return value


ENVIRONMENT_NAME_MAX = 57
"""63 (a label value) minus the longest prefix the platform puts before an environment's name (`redis-`)."""


def _environment_name(value: str) -> str:
    if len(value) > ENVIRONMENT_NAME_MAX:
        raise ValueError(f"at most {ENVIRONMENT_NAME_MAX} characters (labels such as redis-<env> are derived "
                         "from it and hold 63)")
    return value


_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def _repository(value: str) -> str:
    if len(value) > 200 or not _REPOSITORY.match(value):
        raise ValueError("an image repository path: lowercase letters, digits and single separators (. _ __ -) "
                         "between them, components joined by '/', at most 200 characters")
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
class StorageClassConfig(Model):
    """A StorageClass the platform declares itself (named `cluster.storageClass`)."""

    provisioner: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(/[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$")
    """CSI driver, e.g. `ebs.csi.aws.com` (the EBS CSI driver add-on must be installed). Required."""
    parameters: dict[str, str] = {}
    """Driver parameters, e.g. `{type: gp3, encrypted: "true"}`. Omitted: the driver's defaults."""
    reclaim_policy: Literal["Retain", "Delete"] = "Retain"
    """What happens to a volume when its claim is deleted. Omitted: Retain (the data outlives a mistake)."""


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

    context: str = Field(min_length=1)
    """The kubeconfig context of the target cluster: every Kubernetes resource goes through one
    explicit provider built from it (the stack files disable Pulumi's default Kubernetes provider,
    which would follow whatever context is current). Required: a stack must name its cluster."""

    kubeconfig: str | None = None
    """Path of the kubeconfig file that holds `context`. Omitted: `$KUBECONFIG`, else `~/.kube/config`
    (the provider's own lookup)."""

    storage_class: DnsLabel | None = None
    """StorageClass for every PersistentVolumeClaim the platform declares. Omitted: the cluster's
    default class (kind's `standard`)."""

    declare_storage_class: StorageClassConfig | None = None
    """Declare `storage_class` as part of the platform. Omitted: it must exist in the cluster already
    (README, "Prod prerequisites")."""

    @model_validator(mode="after")
    def _declared_class_has_a_name(self) -> ClusterConfig:
        if self.declare_storage_class is not None and self.storage_class is None:
            raise ValueError("declareStorageClass is set but storageClass is not; expected storageClass to "
                             "name the class to declare")
        return self


# -------------------------------------------------------------------------------------- namespaces
class ResourceQuotaConfig(Model):
    """Hard limits for one namespace, so one environment cannot starve another.

    The resource model (README, "Resource model"): CPU is shared by requests alone (no CPU limits,
    so the quota has no `limits.cpu`: it would make every container name one); memory has a request
    and a limit on every container, and the quota caps both sums. Size it for every workload at its
    largest declared scale (`event_platform.capacity` prints that table with `make render`)."""

    requests_cpu: Quantity = "4"
    """Sum of CPU requests. Omitted: 4 cores."""
    requests_memory: Quantity = "8Gi"
    """Sum of memory requests. Omitted: 8Gi."""
    limits_memory: Quantity = "16Gi"
    """Sum of memory limits. Omitted: 16Gi."""
    pods: int = Field(default=50, ge=1)
    """Number of pods. Omitted: 50."""
    persistent_volume_claims: int = Field(default=10, ge=0)
    """Number of PVCs. Omitted: 10."""
    requests_storage: Quantity = "100Gi"
    """Sum of PVC storage requests. Omitted: 100Gi."""


class LimitRangeConfig(Model):
    """Per-container defaults and ceilings, so a container without resources still gets sane ones.

    No CPU default limit and no CPU max: either would give every container a CPU limit (the API
    server defaults a missing `default` from `max`), and a container whose CPU request is above that
    limit is refused, which is how the Postgres pods of a 1-CPU Cluster were refused."""

    default_request_cpu: Quantity = "100m"
    """CPU request given to a container that names none. Omitted: 100m."""
    default_request_memory: Quantity = "128Mi"
    """Memory request given to a container that names none. Omitted: 128Mi."""
    default_limit_memory: Quantity = "512Mi"
    """Memory limit given to a container that names none. Omitted: 512Mi."""
    max_memory: Quantity = "4Gi"
    """Largest memory limit one container may ask for. Omitted: 4Gi."""


class AppNamespaceConfig(Model):
    """One app environment: a namespace the apps of one environment (dev, staging, production) run in."""

    name: Annotated[DnsLabel, AfterValidator(_environment_name)]
    """Namespace name, also the environment's name; at most 57 characters, because names and labels
    are derived from it (`redis-<env>`, 63 at most). Required."""
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
    protect_data: bool = True
    """Protect the namespace, its Postgres Cluster and its Redis StatefulSet from `pulumi destroy`, a
    rename and any change that would replace them (Pulumi `protect`), and keep them in the cluster if
    Pulumi deletes them anyway (`retainOnDelete`): deleting any of them deletes the data. Omitted:
    true. dev sets false (its cluster is thrown away). docs/data-and-secrets.md says how to lift it."""


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
    service_annotations: dict[Annotated[str, AfterValidator(_annotation_key)], str] = {}
    """Annotations of the data-plane Service: what the cluster's load-balancer controller reads. With
    the AWS Load Balancer Controller, `service.beta.kubernetes.io/aws-load-balancer-scheme:
    internet-facing` (its default is an internal load balancer nobody outside the VPC reaches).
    Omitted: none."""

    @model_validator(mode="after")
    def _aws_load_balancer_says_its_scheme(self) -> GatewayConfig:
        aws = [k for k in self.service_annotations if k.startswith("service.beta.kubernetes.io/aws-load-balancer")]
        if aws and f"{AWS_LB}scheme" not in self.service_annotations:
            raise ValueError(f"serviceAnnotations configure the AWS Load Balancer Controller but do not set "
                             f"{AWS_LB}scheme; expected internet-facing (public) or internal")
        return self

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
        unit = self.retention.lstrip("0123456789")
        amount = int(self.retention.removesuffix(unit))
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
    repository: Annotated[str, AfterValidator(_repository)] = "event-collector"
    """Path of the image in the registry (distribution's reference grammar). Omitted: `event-collector`."""
    username: str | None = None
    """Omitted: anonymous push (the local registry)."""
    password: SecretStr | None = None
    """Push password or token. Must be `secure:` in the stack file. Omitted: anonymous push."""
    pull_secret_key: str | None = None
    """Entry in the secret store holding a `.dockerconfigjson` that lets the cluster pull from this
    registry; each app namespace then gets it as an image pull Secret. Omitted: nodes pull on their
    own (the dev registry is anonymous; a cloud registry may grant the nodes' identity)."""

    @model_validator(mode="after")
    def _image_name_fits(self) -> RegistryConfig:
        # distribution/reference: a name (registry host and path) holds at most 255 characters
        if len(self.server) + 1 + len(self.repository) > 255:
            raise ValueError(f"server and repository make a {len(self.server) + 1 + len(self.repository)}-character "
                             "image name; expected at most 255")
        return self


ImagePlatform = Literal["linux/amd64", "linux/arm64"]


def _prebuilt_reference(value: str) -> str:
    match = re.fullmatch(r"[^\s@]+/[^\s@:/]+(?:/[^\s@:/]+)*:([\w][\w.-]{0,127})@sha256:[0-9a-f]{64}", value)
    if not match:
        raise ValueError("an image reference with tag and digest, e.g. registry/app:src-0123abcd4567@sha256:<64 hex>")
    if len(match.group(1)) > 63:
        raise ValueError("a tag of at most 63 characters (it becomes the pods' app.kubernetes.io/version label)")
    return value


class CollectorImageConfig(Model):
    """How the collector image is built, or which already-built image to run."""

    platforms: tuple[ImagePlatform, ...] | None = Field(default=None, min_length=1)
    """Platforms to build for; several make one multi-platform image (the build machine needs QEMU
    for the foreign ones). Omitted: the architecture of the machine running Pulumi, which is what a
    kind node runs (dev on an arm64 laptop gets linux/arm64)."""
    prebuilt: Annotated[str, AfterValidator(_prebuilt_reference)] | None = None
    """An image built and pushed before, as `registry/repository:tag@sha256:<digest>`: nothing is
    built and every environment runs exactly that digest. The deploy workflow sets it to promote the
    digest the dev smoke test ran (docs/delivery.md). Omitted: built from apps/collector."""


class CanaryConfig(Model):
    """A second version receiving a share of the traffic. Remove the block to fold traffic back."""

    image: ImageReference
    """Full image reference with an explicit tag or digest (never `latest`)."""
    weight: int = Field(ge=1, le=99)
    """Percent of requests sent to the canary (1-99)."""


# --------------------------------------------------------------------------------------------- slo
COLLECTOR_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of `collector_request_duration_seconds` (apps/collector/src/collector/metrics.py;
tests/test_slo.py proves they agree): a latency SLO's threshold must be one of them, because the SLI
counts the requests in the bucket `le=<threshold>`."""
FASTEST_BURN_RATE = 14.4
"""The page's fast burn rate (alerts/slo.py): above objective 1 - 1/14.4 a 14.4x burn is possible."""


def _slo_objective(value: float) -> float:
    floor = 1 - 1 / FASTEST_BURN_RATE
    if not floor < value < 1:
        raise ValueError(f"a ratio above {floor:.4f} and below 1 (at or below {floor:.4f} a {FASTEST_BURN_RATE}x "
                         "burn rate would need more than 100% errors, so the page could never fire)")
    return value


def _slo_window(value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*d", value) or not 7 <= int(value[:-1]) <= 90:
        raise ValueError("whole days from 7d to 90d, such as 30d (the alerts look back up to 3d)")
    return value


def _latency_threshold(value: float) -> float:
    if value not in COLLECTOR_LATENCY_BUCKETS:
        raise ValueError(f"one of the collector's latency buckets {list(COLLECTOR_LATENCY_BUCKETS)}")
    return value


class SloConfig(Model):
    """A service level objective: the share of good user requests over a rolling window."""

    objective: Annotated[float, AfterValidator(_slo_objective)]
    """Target share of good requests, e.g. 0.995. Required."""
    window: Annotated[str, AfterValidator(_slo_window)] = "30d"
    """Rolling window (whole days, 7d to 90d) the error budget is counted over. Omitted: 30d."""

    @property
    def window_days(self) -> int:
        return int(self.window[:-1])


class LatencySloConfig(SloConfig):
    """A latency objective: the share of user requests answered within `threshold` seconds."""

    threshold: Annotated[float, AfterValidator(_latency_threshold)] = 0.25
    """Seconds a good request takes at most; one of the collector's histogram bucket bounds
    (COLLECTOR_LATENCY_BUCKETS). Omitted: 0.25."""


class CollectorSloConfig(Model):
    """The collector's SLOs in one environment; alerts/slo.py turns them into burn-rate alerts."""

    availability: SloConfig = SloConfig(objective=0.995)
    """Share of user requests not answered 5xx. Omitted: 99.5% over 30d."""
    latency: LatencySloConfig = LatencySloConfig(objective=0.99)
    """Share of user requests answered within the threshold. Omitted: 99% within 250 ms over 30d."""


class RoutedEnvironmentConfig(Model):
    """An HTTP workload in one app environment: where the Gateway routes to it and how far it scales.
    The collector's and every config-declared service's environments share it."""

    hostname: Hostname
    """Host its HTTPRoute serves, under the Gateway's domain. Required."""
    replicas: int = Field(default=2, ge=1, le=50)
    """Minimum replicas (the autoscaler's floor). Omitted: 2."""
    max_replicas: int = Field(default=6, ge=1, le=100)
    """The autoscaler's ceiling. Omitted: 6."""

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> Self:
        if self.max_replicas < self.replicas:
            raise ValueError(f"maxReplicas {self.max_replicas} is below replicas {self.replicas}; "
                             "expected maxReplicas >= replicas")
        return self


class CollectorEnvironmentConfig(RoutedEnvironmentConfig):
    """Per-environment settings of the collector."""

    canary: CanaryConfig | None = None
    """Omitted: all traffic to the stable version."""
    slo: CollectorSloConfig = CollectorSloConfig()
    """Availability and latency objectives the alerts are generated from. Omitted: the defaults of
    CollectorSloConfig."""


class CollectorConfig(Model):
    registry: RegistryConfig
    image: CollectorImageConfig = CollectorImageConfig()
    """Omitted: built for the host's architecture."""
    environments: dict[DnsLabel, CollectorEnvironmentConfig]
    """One entry per app namespace, keyed by its name. Required."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Omitted: info."""
    retention_days: int = Field(default=30, ge=1, le=3650)
    """Events older than this are deleted. Omitted: 30."""
    max_batch_size: int = Field(default=500, ge=1, le=10000)
    """Most events in one POST. Omitted: 500."""
    resources: ResourcesConfig = ResourcesConfig(cpu="250m", memory="256Mi", memory_limit="512Mi")


# ---------------------------------------------------------------------------------------- services
class ServiceSecretConfig(Model):
    """Where a secret environment variable's value lives in the secret store (never the value)."""

    key: str = Field(min_length=1)
    """Entry name in the store (after the stack's keyPrefix). Required."""
    property: str = Field(min_length=1)
    """Property of that entry. Required."""


class ServiceEnvironmentConfig(RoutedEnvironmentConfig):
    """A service in one app environment."""


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_SECRET_WORDS = ("PASSWORD", "PASSWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL")


class ServiceConfig(Model):
    """Another team's stateless HTTP service, from an existing image (see docs/onboarding.md)."""

    name: Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", max_length=30)]
    """Names every object of the service (`<name>`, `<name>-config`, ...). Required."""
    image: ImageReference
    """Image with an explicit tag or digest. Required."""
    port: int = Field(ge=1, le=65535)
    """Port the container serves HTTP on. Required."""
    environments: dict[DnsLabel, ServiceEnvironmentConfig] = Field(min_length=1)
    """App namespaces to run in, each with its hostname. Required: at least one."""
    paths: tuple[Annotated[str, Field(pattern=r"^/")], ...] = ("/",)
    """Path prefixes published on the Gateway. Omitted: every path."""
    liveness_path: str = Field(default="/healthz", pattern=r"^/")
    """Omitted: /healthz."""
    readiness_path: str = Field(default="/readyz", pattern=r"^/")
    """Omitted: /readyz."""
    metrics_path: str | None = Field(default=None, pattern=r"^/")
    """Prometheus metrics on `port`. Omitted: not scraped (the dashboard shows the cluster's metrics)."""
    run_as_user: int = Field(default=10001, ge=1)
    """Numeric non-root user of the image. Omitted: 10001."""
    resources: ResourcesConfig = ResourcesConfig(cpu="100m", memory="128Mi", memory_limit="256Mi")
    """Omitted: 100m CPU, 128Mi memory (256Mi limit)."""
    env: dict[Annotated[str, Field(pattern=_ENV_NAME)], str] = {}
    """Non-secret environment variables. Omitted: none."""
    secrets: dict[Annotated[str, Field(pattern=_ENV_NAME)], ServiceSecretConfig] = {}
    """Environment variable -> secret-store entry. Omitted: none."""

    @model_validator(mode="after")
    def _no_secrets_in_env(self) -> ServiceConfig:
        if named := sorted(k for k in self.env if any(w in k.upper() for w in _SECRET_WORDS)):
            # the names only: the values may well be the secrets themselves
            raise PlacedError(".env", named, "no variable whose name says secret: env values sit in plain "
                              "text in the stack file and the ConfigMap; put it under `secrets:` (a store entry)")
        if both := sorted(set(self.env) & set(self.secrets)):
            raise PlacedError(".secrets", both, "each variable in env or in secrets, not both")
        return self


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
    services: tuple[ServiceConfig, ...] = ()
    """More teams' services (docs/onboarding.md). Omitted: the collector alone."""

    @model_validator(mode="after")
    def _services_fit(self) -> PlatformConfig:
        apps, domain = set(self.namespaces.app_names), self.gateway.domain
        owner: dict[str, str] = {env.hostname: f"collector.environments.{name}.hostname"
                                 for name, env in self.collector.environments.items()}
        grafana = self.observability.grafana_hostname or f"grafana.{domain}"
        owner.setdefault(grafana, "observability.grafanaHostname")
        names = ["collector"]
        for i, svc in enumerate(self.services):
            where = f"services[{i}]"
            if svc.name in names:
                raise PlacedError(f"{where}.name", svc.name, "a service name no other service (nor the "
                                  "collector) uses: it names every object in the namespace")
            names.append(svc.name)
            for env_name, env in svc.environments.items():
                key = f"{where}.environments.{env_name}"
                if env_name not in apps:
                    raise PlacedError(f"{where}.environments", env_name, f"one of the app namespaces {sorted(apps)}")
                if env.hostname != domain and not env.hostname.endswith(f".{domain}"):
                    raise PlacedError(f"{key}.hostname", env.hostname, f"a hostname under the Gateway's domain "
                                      f"{domain} (gateway.domain)")
                if env.hostname in owner:
                    raise PlacedError(f"{key}.hostname", env.hostname, f"a hostname nothing else serves; "
                                      f"{owner[env.hostname]} has it")
                owner[env.hostname] = f"{key}.hostname"
                if self.cluster.type == "managed" and env.replicas < 2:
                    raise PlacedError(f"{key}.replicas", env.replicas, "at least 2 on a managed cluster, so a "
                                      "node can fail or drain")
        return self

    @model_validator(mode="after")
    def _cross_checks(self) -> PlatformConfig:
        apps = set(self.namespaces.app_names)
        envs = set(self.collector.environments)
        if envs != apps:
            raise ValueError(
                f"collector.environments names {sorted(envs)}; expected exactly the app namespaces {sorted(apps)}")
        unreachable = (".localtest.me", ".local", ".localhost", ".test", ".example", ".invalid", ".internal")
        if self.gateway.tls is not None and self.gateway.tls.issuer.startswith("letsencrypt"):
            # HTTP-01 needs public DNS pointing at the front door before a certificate can issue
            for host in [env.hostname for env in self.collector.environments.values()]:
                if f".{host}".endswith(unreachable):
                    raise ValueError(f"gateway.tls.issuer {self.gateway.tls.issuer} cannot prove {host}: Let's "
                                     "Encrypt resolves it publicly; expected a public domain or issuer self-signed")
        if self.cluster.type == "managed":
            # One replica behind a PDB blocks node drains, and one Postgres instance is no HA.
            image = self.collector.image
            if image.platforms is None and image.prebuilt is None:
                # the host's architecture fits a kind node on that host, not a remote cluster's nodes
                raise ValueError("collector.image.platforms is not set on a managed cluster; expected the "
                                 "platforms of its nodes, e.g. [linux/amd64]")
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
    if "kubernetes:context" in config:
        # With default providers disabled nothing reads it: a stack that sets it would believe it is in force.
        raise ConfigError(f"{source}: kubernetes:context: got {config['kubernetes:context']!r}; expected "
                          f"{PROJECT}:cluster.context instead (the platform's explicit provider reads that)")
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


def host_platform() -> str:
    """The container platform of the machine running Pulumi (`linux/arm64` on Apple silicon): what
    a kind node there runs. Only `__main__.py` asks; render and tests stay machine-independent."""
    import platform as stdlib_platform

    machine = stdlib_platform.machine().lower()
    return "linux/arm64" if machine in ("arm64", "aarch64") else "linux/amd64"


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
        placed = (e.get("ctx") or {}).get("error")
        if isinstance(placed, PlacedError):  # names its key (relative: below the error's location)
            where = f"{key}{placed.key}" if placed.key.startswith(".") else f"{PROJECT}:{placed.key}"
            lines.append(f"{where}: got {placed.value!r}; expected {placed.expected}")
            continue
        value = e.get("input")
        shown = "[secret]" if _may_be_secret(e["loc"], value, unknown_key=kind == "extra_forbidden") else repr(value)
        if kind == "extra_forbidden":
            lines.append(f"{key}: unknown key (value {shown}); expected one of: {_allowed_keys(dict(e), err)}")
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


def _may_be_secret(loc: tuple[Any, ...], value: Any, *, unknown_key: bool = False) -> bool:
    """May the value of an error at `loc` be secret? Yes when it holds a `secure:` value or a key named
    like a secret at any depth, when any key on its path is named like one, or when it is an unknown key
    in a model that holds a secret value (an unknown `passwrd` beside `password` is a misspelt password).
    A known field's value (a port, a replica count) is shown even beside a secret: its name says what
    it is."""
    if _holds_secret(value) or any(_SECRET_NAME.search(str(part)) for part in loc):
        return True
    if not unknown_key:
        return False
    annotation: Any = PlatformConfig
    for part in loc[:-1]:
        annotation = _step(annotation, part)
    model = _as_model(annotation)
    return model is not None and any(_is_secret_type(f.annotation) for f in model.model_fields.values())


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

    from event_platform.render import stack_file

    print(load_stack_file(stack_file(sys.argv[1])).cluster.kubernetes_version)
