"""The event collector in one app environment: the story's chapters added up.

Deployment (restarts, rolling updates, probes, graceful drain), Service (stable name), HTTPRoute
through the platform Gateway (one front door, optional weighted canary), PodDisruptionBudget and
HorizontalPodAutoscaler (node drains and load), ConfigMap and Secrets from the store (config outside
the image), and monitoring through the observability helper.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels
from event_platform.components.app_namespace import AppNamespace
from event_platform.components.app_monitoring import AppMonitoring, AppMonitoringArgs, scraped_by_monitor_labels
from event_platform.dashboards.collector import collector_dashboard
from event_platform.alerts.collector_rules import collector_rule_groups
from event_platform.components.gateway import Gateway
from event_platform.components.http_route import HttpRoute, HttpRouteArgs, RouteBackend
from event_platform.components.observability import Observability
from event_platform.components.postgres_cluster import PostgresCluster
from event_platform.components.redis import Redis
from event_platform.components.secrets import SecretEntry, SecretStore
from event_platform.config import CollectorConfig, CollectorEnvironmentConfig

APP = "collector"
TRACK = "event-platform.io/track"
"""Pod label telling the stable version from the canary, so each Service selects one of them."""


@dataclass(frozen=True)
class CollectorContract:
    """What the collector's code serves (apps/collector: collector.app and collector.settings).
    tests/test_collector_component.py proves these match the code."""

    port: int = 8080
    liveness_path: str = "/healthz"
    readiness_path: str = "/readyz"
    metrics_path: str = "/metrics"
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
GRACE_MARGIN_SECONDS = 10
SERVICE_PORT = 80
PULL_SECRET = "registry-pull"
"""Image pull Secret in each app namespace, when the registry needs credentials to pull."""


def termination_grace_seconds() -> int:
    """Longer than everything a stopping pod does, so Kubernetes never SIGKILLs a drain."""
    return PRE_STOP_SECONDS + CONTRACT.shutdown_delay_seconds + CONTRACT.drain_seconds + GRACE_MARGIN_SECONDS


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
    spread_strictly: bool = False
    """Refuse to schedule two replicas on one node while another node has room (managed clusters).
    Omitted: spread when possible (a one-node kind cluster must still run every replica)."""


class Collector(pulumi.ComponentResource):
    """The collector in one environment."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    canary_deployment: k8s.apps.v1.Deployment | None
    canary_service: k8s.core.v1.Service | None
    route: HttpRoute
    config_map: k8s.core.v1.ConfigMap
    url: str
    """Where the environment answers."""

    def __init__(self, name: str, args: CollectorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:collector:Collector", name, None, opts)
        self._name, self._args = name, args
        env = args.environment
        namespace = args.namespace.namespace
        ns = namespace.metadata.name
        child = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": f"{APP}-config", "namespace": ns, "labels": labels.common(APP, "config")},
            data=config_data(args.config), opts=child)
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
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-account",
            metadata={"name": APP, "namespace": ns, "labels": labels.common(APP, "identity")},
            automount_service_account_token=False,  # the collector never talks to the Kubernetes API
            opts=child)

        self.deployment, self.service = self._deploy_version("stable", args.image, args.image_tag, replicas=None)
        self.canary_deployment = self.canary_service = None
        backends = [RouteBackend(service=self.service, port=SERVICE_PORT, weight=100 - (env.canary.weight
                                 if env.canary else 0), pod_labels=pod_selector("stable"), target_port=CONTRACT.port)]
        if env.canary:
            canary_tag = env.canary.image.rsplit(":", 1)[-1].split("@")[0]
            self.canary_deployment, self.canary_service = self._deploy_version("canary", env.canary.image, canary_tag,
                                                                        replicas=1)
            backends.append(RouteBackend(service=self.canary_service, port=SERVICE_PORT, weight=env.canary.weight,
                                         pod_labels=pod_selector("canary"), target_port=CONTRACT.port))

        self.route = HttpRoute(f"{name}-route", HttpRouteArgs(
            gateway=args.gateway, namespace=namespace, route_name=APP, hostnames=(env.hostname,),
            backends=tuple(backends)), pulumi.ResourceOptions(parent=self))
        self.url = f"{'https' if args.gateway.https_listener else 'http'}://{env.hostname}"

        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": APP, "namespace": ns, "labels": labels.common(APP, "availability")},
            # maxUnavailable (not minAvailable) so a drain of a one-replica dev stack still proceeds
            spec={"maxUnavailable": 1, "selector": {"matchLabels": pod_selector("stable")}},
            opts=child)
        self.autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata={"name": APP, "namespace": ns, "labels": labels.common(APP, "autoscaling")},
            spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": APP},
                  "minReplicas": env.replicas, "maxReplicas": env.max_replicas,
                  "metrics": [{"type": "Resource", "resource": {
                      "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployment]))

        monitored = [s for s in (self.service, self.canary_service) if s is not None]
        self.monitoring = AppMonitoring(f"{name}-monitoring", AppMonitoringArgs(
            app_name=APP, namespace=namespace, service=self.service,
            selector_labels={labels.NAME: APP, labels.PART_OF: labels.PLATFORM},
            metrics_port_name="http", metrics_path=CONTRACT.metrics_path,
            rule_groups=collector_rule_groups(namespace=args.namespace.name),
            dashboard=collector_dashboard(),
            monitoring_namespace=args.observability.monitoring_namespace,
            pod_labels={labels.NAME: APP}, metrics_port=CONTRACT.port,
            crd_dependencies=(args.observability.release,)),
            pulumi.ResourceOptions(parent=self, depends_on=monitored))

        self.register_outputs({"url": self.url, "deployment": self.deployment.metadata.name,
                               "service": self.service.metadata.name})

    def _deploy_version(self, track: str, image: pulumi.Input[str], tag: str,
                 replicas: int | None) -> tuple[k8s.apps.v1.Deployment, k8s.core.v1.Service]:
        """One version of the collector: its Deployment and the Service selecting only its pods."""
        args, name = self._args, self._name
        namespace = args.namespace.namespace
        ns = namespace.metadata.name
        object_name = APP if track == "stable" else f"{APP}-{track}"
        pod_labels = {**pod_selector(track), labels.PART_OF: labels.PLATFORM, labels.VERSION: tag,
                      **scraped_by_monitor_labels()}
        spec: dict[str, Any] = {
            "selector": {"matchLabels": pod_selector(track)},
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                # issue 12: Redis's rotation annotation, so a password rotation rolls these pods too
                "metadata": {"labels": pod_labels, "annotations": pod_annotations(self.config_map).apply(
                    lambda found: {**found, **args.redis.client_pod_annotations})},
                "spec": pod_spec(args, image, track),
            },
        }
        if replicas is not None:
            spec["replicas"] = replicas  # the stable Deployment leaves replicas to its autoscaler
        # issue 12 (Redis password rotation): roll after Redis, which accepts both passwords meanwhile
        deps = [namespace, self.config_map, self.auth_secret, self.service_account, args.redis.statefulset,
                *([self.pull_secret] if self.pull_secret else [])]
        deployment = k8s.apps.v1.Deployment(
            f"{name}-{track}-deployment",
            metadata={"name": object_name, "namespace": ns, "labels": {**labels.common(APP, "server"),
                                                                        TRACK: track}},
            spec=spec, opts=pulumi.ResourceOptions(parent=self, depends_on=deps))
        service = k8s.core.v1.Service(
            f"{name}-{track}-service",
            metadata={"name": object_name, "namespace": ns,
                      "labels": {**labels.common(APP, "server"), TRACK: track}},
            spec={"selector": pod_selector(track),
                  "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]))
        return deployment, service


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


def pod_annotations(config_map: k8s.core.v1.ConfigMap) -> pulumi.Output[dict[str, str]]:
    """Scrape annotations, and a checksum of the ConfigMap so that a config change rolls the pods."""
    def annotate(data: dict[str, str]) -> dict[str, str]:
        checksum = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        return {"prometheus.io/scrape": "true", "prometheus.io/port": str(CONTRACT.port),
                "prometheus.io/path": CONTRACT.metrics_path, "checksum/config": checksum}
    return config_map.data.apply(annotate)


def pod_spec(args: CollectorArgs, image: pulumi.Input[str], track: str) -> dict:
    http_probe = {"port": "http", "scheme": "HTTP"}
    secret_env = [
        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {
            "name": args.database.app_secret_name, "key": "uri"}}},
        {"name": "REDIS_URL", "valueFrom": {"secretKeyRef": {
            "name": args.redis.url_secret_name, "key": args.redis.url_secret_key}}},
        {"name": "AUTH_TOKENS", "valueFrom": {"secretKeyRef": {"name": f"{APP}-auth", "key": "tokens"}}},
    ]
    spread = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
              "whenUnsatisfiable": "DoNotSchedule" if args.spread_strictly else "ScheduleAnyway",
              "labelSelector": {"matchLabels": pod_selector(track)}}
    pull = {"imagePullSecrets": [{"name": PULL_SECRET}]} if args.config.registry.pull_secret_key else {}
    return {
        **pull,
        "serviceAccountName": APP,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": termination_grace_seconds(),
        "securityContext": {"runAsNonRoot": True, "runAsUser": CONTRACT.run_as_user,
                            "runAsGroup": CONTRACT.run_as_user, "fsGroup": CONTRACT.run_as_user,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "topologySpreadConstraints": [spread],
        "containers": [{
            "name": APP,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": "http", "containerPort": CONTRACT.port, "protocol": "TCP"}],
            "envFrom": [{"configMapRef": {"name": f"{APP}-config"}}],
            "env": secret_env,
            "resources": args.config.resources.as_kubernetes(),
            "startupProbe": {"httpGet": {**http_probe, "path": CONTRACT.liveness_path},
                             "periodSeconds": 2, "failureThreshold": 30},
            "livenessProbe": {"httpGet": {**http_probe, "path": CONTRACT.liveness_path},
                              "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3},
            "readinessProbe": {"httpGet": {**http_probe, "path": CONTRACT.readiness_path},
                               "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 2},
            "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
    }
