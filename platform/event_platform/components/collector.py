"""The event collector in one app environment: a `WebService` (Deployment, Service, route, PDB, HPA,
monitoring, canary) plus what only the collector has: its settings, its bearer tokens, its image pull
Secret, its database and cache (which its pods wait for and read their URLs from), its alert rules
and its dashboard. Only `/events` is published on the Gateway; probes and metrics stay inside the
cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels
from event_platform.alerts.collector_rules import collector_rule_groups
from event_platform.components.app_namespace import AppNamespace
from event_platform.components.gateway import Gateway
from event_platform.components.observability import Observability
from event_platform.components.postgres_cluster import PostgresCluster
from event_platform.components.redis import Redis
from event_platform.components.secrets import SecretEntry, SecretStore
from event_platform.components.web_service import WebService
from event_platform.components.web_service_args import TRACK, Canary, Probes, SecretEnv, WebServiceArgs, version_label
from event_platform.config.collector import CollectorConfig, CollectorEnvironmentConfig
from event_platform.dashboards.collector import collector_dashboard

APP = "collector"


@dataclass(frozen=True)
class CollectorContract:
    """What the collector's code serves (apps/collector: collector.app and collector.settings).
    tests/test_collector_component.py proves these match the code."""

    port: int = 8080
    liveness_path: str = "/healthz"
    readiness_path: str = "/readyz"
    metrics_path: str = "/metrics"
    public_paths: tuple[str, ...] = ("/events",)
    """What a client needs (POST and GET /events); the rest answers only inside the cluster."""
    drain_seconds: int = 20
    """DRAIN_SECONDS we set: how long in-flight requests and buffered writes may take after SIGTERM."""
    shutdown_delay_seconds: int = 0
    """SHUTDOWN_DELAY_SECONDS we set: the pod's own pre-stop pause covers the endpoint propagation."""
    run_as_user: int = 10001
    """The numeric non-root user of the image (apps/collector/Dockerfile)."""


CONTRACT = CollectorContract()
PRE_STOP_SECONDS = 5
"""Pause before SIGTERM so the endpoint removal reaches the gateway first; no new request arrives
at a process that is already draining."""
PULL_SECRET = "registry-pull"
"""Image pull Secret in each app namespace, when the registry needs credentials to pull."""


class CollectorArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: CollectorConfig
    """Stack-wide settings (log level, retention, batch size, resources)."""
    environment: CollectorEnvironmentConfig
    """This environment's hostname, replicas and canary."""
    namespace: AppNamespace
    """The app environment's namespace to deploy into."""
    image: pulumi.Output | str
    """The stable image reference (by digest) every environment runs."""
    image_tag: str
    """The stable image's tag, shown on the dashboard and in labels."""
    gateway: Gateway
    database: PostgresCluster
    redis: Redis
    secrets: SecretStore
    observability: Observability
    pod_annotations: dict[str, pulumi.Output | str] = {}
    """Extra pod-template annotations; a change rolls the pods (e.g. the checksum of a rotated Redis
    password). Omitted: none."""
    spread_strictly: bool = False
    """Refuse to schedule two replicas on one node while another node has room (managed clusters).
    Omitted: spread when possible (a one-node kind cluster must still run every replica)."""


class Collector(pulumi.ComponentResource):
    """The collector in one environment."""

    service: WebService
    """Deployment(s), Service(s), route, PDB, HPA and monitoring."""
    deployment: k8s.apps.v1.Deployment
    url: str
    """Where the environment answers."""

    def __init__(self, name: str, args: CollectorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:collector:Collector", name, None, opts)
        env, namespace = args.environment, args.namespace.namespace
        self.auth_secret = args.secrets.external_secret(
            f"{name}-auth", namespace=namespace, secret_name=f"{APP}-auth",
            data={"tokens": SecretEntry("collector-auth", "tokens")}, opts=pulumi.ResourceOptions(parent=self))
        self.pull_secret = None
        if args.config.registry.pull_secret_key:
            self.pull_secret = args.secrets.external_secret(
                f"{name}-registry-pull", namespace=namespace, secret_name=PULL_SECRET,
                data={".dockerconfigjson": SecretEntry(args.config.registry.pull_secret_key, ".dockerconfigjson",
                                                       generate_length=None)},
                template={".dockerconfigjson": '{{ index . ".dockerconfigjson" }}'},
                secret_type="kubernetes.io/dockerconfigjson", opts=pulumi.ResourceOptions(parent=self))
        produced = [r for r in (self.auth_secret, self.pull_secret) if r is not None]

        # Same logical names as before the collector ran on WebService, aliased to their old parent.
        self.service = WebService(name, WebServiceArgs(
            name=APP, namespace=args.namespace, image=args.image, version=version_label("", args.image_tag),
            port=CONTRACT.port, gateway=args.gateway, hostname=env.hostname, paths=CONTRACT.public_paths,
            probes=Probes(liveness_path=CONTRACT.liveness_path, readiness_path=CONTRACT.readiness_path),
            config=config_data(args.config), secret_env=secret_env(args),
            resources=args.config.resources, replicas=env.replicas, max_replicas=env.max_replicas,
            canary=Canary(image=env.canary.image, weight=env.canary.weight) if env.canary else None,
            run_as_user=CONTRACT.run_as_user, pre_stop_seconds=PRE_STOP_SECONDS,
            drain_seconds=CONTRACT.drain_seconds + CONTRACT.shutdown_delay_seconds,
            spread_strictly=args.spread_strictly,
            image_pull_secret=PULL_SECRET if self.pull_secret else None,
            # Redis's rotation count: a password rotation rolls these pods after Redis, which accepts
            # the old and the new password meanwhile (components/redis.py)
            pod_annotations={**args.redis.client_pod_annotations, **args.pod_annotations},
            # the first `up` must not roll out pods that cannot reach their database or cache yet
            wait_for=(*produced, args.database.cluster, args.redis.statefulset),
            observability=args.observability, metrics_path=CONTRACT.metrics_path,
            rule_groups=collector_rule_groups(namespace=args.namespace.name, slo=env.slo),
            dashboard=collector_dashboard(),
            child_aliases=(pulumi.Alias(parent=self),)), pulumi.ResourceOptions(parent=self))
        self.deployment = self.service.deployment
        self.url = self.service.url
        self.register_outputs({"url": self.url, "deployment": self.deployment.metadata.name,
                               "service": self.service.service.metadata.name})


def pod_selector(track: str) -> dict[str, str]:
    return {labels.NAME: APP, TRACK: track}


def config_data(cfg: CollectorConfig) -> dict[str, str]:
    """The collector's non-secret settings (environment variable names of collector.settings)."""
    return {
        "LOG_LEVEL": cfg.log_level,
        "RETENTION_DAYS": str(cfg.retention_days),
        "MAX_BATCH_SIZE": str(cfg.max_batch_size),
        "DRAIN_SECONDS": str(CONTRACT.drain_seconds),
        "SHUTDOWN_DELAY_SECONDS": str(CONTRACT.shutdown_delay_seconds),
        "PORT": str(CONTRACT.port),
    }


def secret_env(args: CollectorArgs) -> tuple[SecretEnv, ...]:
    """The collector's secret settings: its database's and its cache's URLs and its bearer tokens."""
    return (SecretEnv(env="DATABASE_URL", secret_name=args.database.app_secret_name, key="uri"),
            SecretEnv(env="REDIS_URL", secret_name=args.redis.url_secret_name, key=args.redis.url_secret_key),
            SecretEnv(env="AUTH_TOKENS", secret_name=f"{APP}-auth", key="tokens"))
