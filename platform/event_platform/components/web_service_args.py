"""What a service says it is, by intent (`WebServiceArgs`: image, port, probes, settings, secrets,
size, hostname, paths, canary), and the labels and names derived from it."""

from __future__ import annotations

import hashlib
import re

import pulumi
from pydantic import BaseModel, ConfigDict, Field, model_validator

from event_platform import labels
from event_platform.components.app_namespace import AppNamespace
from event_platform.components.gateway import Gateway
from event_platform.components.observability import Observability
from event_platform.components.secrets import SecretEntry, SecretStore
from event_platform.config.base import ResourcesConfig

TRACK = "event-platform.io/track"
"""Pod label telling the stable version from the canary, so each Service selects one of them."""


SERIES_LABELS_FROM_PODS = {"version": labels.VERSION, "track": TRACK}
"""Labels every scraped series carries from its pod: dashboards split latency and errors by them and
mark each new version (dashboards/collector.py)."""


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


NAME_MAX = 30
"""Longest service name: `<name>-from-prometheus` and `<name>-canary-...` stay valid object names."""


def version_label(image: str, tag: str | None = None) -> str:
    """A valid `app.kubernetes.io/version` value for an image reference: its tag (shortened with a hash
    when longer than a label allows), else `sha256-<12 hex>` of its digest. A digest as such is 71
    characters: as a label value the Deployment would be refused."""
    last = image.rsplit("/", 1)[-1]
    name_tag, _, digest = last.partition("@")
    value = tag if tag is not None else (name_tag.split(":", 1)[1] if ":" in name_tag else "")
    if not value and digest:
        value = digest.replace(":", "-")[:19]  # sha256-<12 hex>
    value = re.sub(r"[^A-Za-z0-9_.-]", "-", value).strip("-_.")
    if len(value) > 63:
        value = f"{value[:54].rstrip('-_.')}-{hashlib.sha256(value.encode()).hexdigest()[:8]}"
    if not value or not _LABEL_VALUE.match(value):
        raise ValueError(f"image {image!r}: cannot derive a version label; expected a tag or a sha256 digest")
    return value


class Probes(BaseModel):
    """Where the kubelet asks whether the process lives and whether it takes traffic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    liveness_path: str = Field(default="/healthz", pattern=r"^/")
    """Restarts the container when it fails; also the startup probe. Omitted: /healthz."""
    readiness_path: str = Field(default="/readyz", pattern=r"^/")
    """Takes the pod out of the Service while it fails. Omitted: /readyz."""
    startup_seconds: int = Field(default=60, ge=2, le=600)
    """How long a starting process may take before liveness applies. Omitted: 60 s."""


class Canary(BaseModel):
    """A second version receiving a share of the traffic (one replica, its own Deployment and Service)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str
    weight: int = Field(ge=1, le=99)
    """Percent of requests sent to the canary."""


class SecretEnv(BaseModel):
    """An environment variable read from a key of a Secret that something else produces (a database's
    `-app` Secret, a cache's URL Secret, an ExternalSecret the caller declares)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    secret_name: str
    key: str


class WebServiceArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str = Field(pattern=NAME_PATTERN, max_length=NAME_MAX)
    """Names every object and is the pods' `app.kubernetes.io/name`. Required."""
    namespace: AppNamespace
    """The app environment to deploy into. Required."""
    image: pulumi.Output | str
    """Image reference, by tag or digest. Required."""
    version: str
    """`app.kubernetes.io/version` of the pods (see `version_label`). Required."""
    port: int = Field(ge=1, le=65535)
    """Container port the process serves HTTP on (port name `http`). Required."""
    gateway: Gateway
    """The platform Gateway the route attaches to. Required."""
    hostname: str
    """Host the route answers on (the Gateway must serve it: `stack.served_hostnames`). Required."""
    paths: tuple[str, ...] = ("/",)
    """Path prefixes published on the Gateway; anything else (probes, metrics) stays inside the cluster.
    Omitted: every path."""
    probes: Probes = Probes()
    """Omitted: /healthz for liveness and startup, /readyz for readiness."""
    config: dict[str, str] = {}
    """Non-secret environment variables, held in ConfigMap `<name>-config`; a change rolls the pods.
    Omitted: no ConfigMap."""
    secrets: dict[str, SecretEntry] = {}
    """Environment variable -> entry of the secret store, through ExternalSecret `<name>-secrets`.
    Omitted: none."""
    secret_env: tuple[SecretEnv, ...] = ()
    """Environment variables from Secrets produced elsewhere. Omitted: none."""
    secret_store: SecretStore | None = None
    """Required with `secrets`."""
    resources: ResourcesConfig = ResourcesConfig(cpu="100m", memory="128Mi", memory_limit="256Mi")
    """Omitted: 100m CPU, 128Mi memory (256Mi limit)."""
    replicas: int = Field(default=2, ge=1)
    """The autoscaler's floor. Omitted: 2 (one node may fail or drain)."""
    max_replicas: int = Field(default=6, ge=1)
    """The autoscaler's ceiling. Omitted: 6."""
    cpu_target_percent: int = Field(default=70, ge=10, le=100)
    """Average CPU (of requests) the autoscaler aims for. Omitted: 70."""
    canary: Canary | None = None
    """Omitted: all traffic to the stable version."""
    canary_version: str | None = None
    """Version label of the canary. Omitted: derived from the canary image (`version_label`)."""
    run_as_user: int = Field(default=10001, ge=1)
    """Numeric non-root user (and group) the image runs as. Omitted: 10001."""
    drain_seconds: int = Field(default=20, ge=0)
    """How long the process takes to finish in-flight work after SIGTERM; the grace period outlasts it.
    Omitted: 20."""
    pre_stop_seconds: int = Field(default=5, ge=0)
    """Pause before SIGTERM so the endpoint removal reaches the Gateway first. Omitted: 5."""
    tmp_size: str = "256Mi"
    """Size of the writable /tmp (the root filesystem is read-only). Omitted: 256Mi."""
    spread_strictly: bool = False
    """Refuse two replicas on one node while another node has room (managed clusters). Omitted: spread
    when possible (a one-node kind cluster must still run every replica)."""
    image_pull_secret: str | None = None
    """Name of an image pull Secret in the namespace. Omitted: nodes pull on their own."""
    pod_annotations: dict[str, pulumi.Output | str] = {}
    """Extra pod-template annotations; changing one rolls the pods (e.g. a rotated dependency's
    checksum). Omitted: none."""
    wait_for: tuple[pulumi.Resource, ...] = ()
    """What must be ready before the Deployment rolls out (its database, its cache). Omitted: nothing."""
    observability: Observability | None = None
    """Omitted: no monitoring and no dashboard."""
    metrics_path: str | None = Field(default=None, pattern=r"^/")
    """Path of Prometheus metrics on `port`: a ServiceMonitor and the Prometheus -> pods flow.
    Omitted: not scraped (the dashboard still shows pods, CPU, memory and restarts)."""
    rule_groups: tuple[dict, ...] = ()
    """Prometheus rule groups. Omitted: no PrometheusRule."""
    dashboard: dict | None = None
    """Grafana dashboard JSON model. Omitted: the platform's generic service dashboard."""
    child_aliases: tuple[pulumi.Alias, ...] = ()
    """Earlier parents of the children, for a service moved onto this component: its resources keep
    their identity (a changed URN is a delete and create in `pulumi up`). Omitted: none."""

    @model_validator(mode="after")
    def _consistent(self) -> WebServiceArgs:
        if self.max_replicas < self.replicas:
            raise ValueError(f"{self.name}: max_replicas {self.max_replicas} is below replicas {self.replicas}")
        if self.secrets and self.secret_store is None:
            raise ValueError(f"{self.name}: secrets need a secret_store")
        if not _LABEL_VALUE.match(self.version) or len(self.version) > 63:
            raise ValueError(f"{self.name}: version {self.version!r} is not a label value; use version_label()")
        return self

    def pod_selector(self, track: str) -> dict[str, str]:
        return {labels.NAME: self.name, TRACK: track}
