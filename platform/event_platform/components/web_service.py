"""A stateless HTTP service on the platform, declared by intent: image, port, probes, settings,
secrets, size, hostname and paths. Everything the story's chapters add to a service comes with it:
Deployment (rolling updates that never drop below the desired count, probes, graceful drain),
Service, HTTPRoute on the platform Gateway (optional weighted canary), PodDisruptionBudget,
HorizontalPodAutoscaler, ConfigMap and secret-store Secrets, monitoring, and the NetworkPolicies that
follow from what it exposes (the Gateway -> its port, Prometheus -> its metrics).

What it uses (a database, a cache) opens from the other side: each store declares both ends of the
flow for its clients' pod labels (`network.allow_clients`, the service's `app.kubernetes.io/name`), and
the service waits for it (`wait_for`) and reads its URL from the Secret it produces (`secret_env`).

Every object is named after the service (`<name>`, `<name>-canary`, `<name>-config`, ...), so two
services in one namespace never collide; the pod selector is the service's own name label.
Secure and highly available by default: non-root, read-only root filesystem, no capabilities, no
service-account token, a pre-stop pause before SIGTERM, replicas spread across nodes.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, model_validator

from event_platform import labels
from event_platform.components.app_monitoring import (
    AppMonitoring,
    AppMonitoringArgs,
    namespaced_dashboard,
    scraped_by_monitor_labels,
)
from event_platform.components.app_namespace import AppNamespace
from event_platform.components.gateway import Gateway
from event_platform.components.http_route import HttpRoute, HttpRouteArgs, RouteBackend
from event_platform.components.observability import Observability, dashboard_config_map, dashboard_data
from event_platform.components.secrets import SecretEntry, SecretStore
from event_platform.config import ResourcesConfig
from event_platform.dashboards.web_service import service_dashboard

TRACK = "event-platform.io/track"
"""Pod label telling the stable version from the canary, so each Service selects one of them."""
SERIES_LABELS_FROM_PODS = {"version": labels.VERSION, "track": TRACK}
"""Labels every scraped series carries from its pod: dashboards split latency and errors by them and
mark each new version (dashboards/collector.py)."""
SERVICE_PORT = 80
GRACE_MARGIN_SECONDS = 10
ROLLOUT_TIMEOUT_SECONDS = 1200
"""How long `pulumi up` waits for a rollout (pulumi.com/timeoutSeconds): a first bring-up on a slow
laptop pulls images and waits for its database first."""
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


class WebService(pulumi.ComponentResource):
    """One stateless HTTP service in one app environment."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    canary_deployment: k8s.apps.v1.Deployment | None
    canary_service: k8s.core.v1.Service | None
    config_map: k8s.core.v1.ConfigMap | None
    secret: pulumi.Resource | None
    route: HttpRoute
    monitoring: AppMonitoring | None
    """Monitor, rules and dashboard, when the service serves metrics."""
    dashboard: k8s.core.v1.ConfigMap | None
    url: str

    def __init__(self, name: str, args: WebServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:app:WebService", name, None, opts)
        self._name, self._args = name, args
        self._aliases: list[Any] = list(args.child_aliases)
        app, namespace = args.name, args.namespace.namespace
        ns = namespace.metadata.name

        self.config_map = None
        if args.config:
            self.config_map = k8s.core.v1.ConfigMap(
                f"{name}-config",
                metadata={"name": f"{app}-config", "namespace": ns, "labels": labels.common(app, "config")},
                data=dict(args.config), opts=self._child(namespace))
        self.secret = None
        if args.secrets and args.secret_store is not None:
            self.secret = args.secret_store.external_secret(
                f"{name}-secrets", namespace=namespace, secret_name=f"{app}-secrets",
                data=dict(args.secrets), opts=self._child())
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-account",
            metadata={"name": app, "namespace": ns, "labels": labels.common(app, "identity")},
            automount_service_account_token=False,  # a web service has no business with the Kubernetes API
            opts=self._child(namespace))

        self.deployment, self.service = self._deploy_version("stable", args.image, args.version, replicas=None)
        self.canary_deployment = self.canary_service = None
        stable_weight = 100 - (args.canary.weight if args.canary else 0)
        backends = [RouteBackend(service=self.service, port=SERVICE_PORT, weight=stable_weight,
                                 pod_labels=args.pod_selector("stable"), target_port=args.port)]
        if args.canary:
            canary_version = args.canary_version or version_label(args.canary.image)
            self.canary_deployment, self.canary_service = self._deploy_version(
                "canary", args.canary.image, canary_version, replicas=1)
            backends.append(RouteBackend(service=self.canary_service, port=SERVICE_PORT, weight=args.canary.weight,
                                         pod_labels=args.pod_selector("canary"), target_port=args.port))

        self.route = HttpRoute(f"{name}-route", HttpRouteArgs(
            gateway=args.gateway, namespace=namespace, route_name=app, hostnames=(args.hostname,),
            backends=tuple(backends), paths=args.paths), self._child())
        self.url = f"{'https' if args.gateway.https_listener else 'http'}://{args.hostname}"

        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": app, "namespace": ns, "labels": labels.common(app, "availability")},
            # maxUnavailable (not minAvailable) so a drain of a one-replica dev stack still proceeds
            spec={"maxUnavailable": 1, "selector": {"matchLabels": args.pod_selector("stable")}},
            opts=self._child(namespace))
        self.autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata={"name": app, "namespace": ns, "labels": labels.common(app, "autoscaling")},
            spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                  "minReplicas": args.replicas, "maxReplicas": args.max_replicas,
                  "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                      "type": "Utilization", "averageUtilization": args.cpu_target_percent}}}]},
            opts=self._child(self.deployment))

        self.monitoring, self.dashboard = None, None
        if args.observability is not None:
            self._observe(args.observability)

        self.register_outputs({"url": self.url, "deployment": self.deployment.metadata.name,
                               "service": self.service.metadata.name})

    def _observe(self, observability: Observability) -> None:
        """Monitor, rules and dashboard with metrics; without them only the dashboard, whose panels come
        from the cluster's own metrics (kube-state-metrics, cAdvisor)."""
        args, name = self._args, self._name
        app, namespace = args.name, args.namespace.namespace
        board = args.dashboard if args.dashboard is not None else service_dashboard(app)
        if args.metrics_path is None:
            ns = namespace.metadata.name
            self.dashboard = dashboard_config_map(
                f"{name}-dashboard", name=f"{app}-dashboard", namespace=ns,
                data=ns.apply(lambda n: dashboard_data(namespaced_dashboard(board, n))), folder=ns,
                opts=self._child(namespace))
            return
        monitored = [s for s in (self.service, self.canary_service) if s is not None]
        self.monitoring = AppMonitoring(f"{name}-monitoring", AppMonitoringArgs(
            app_name=app, namespace=namespace, service=self.service,
            selector_labels={labels.NAME: app, labels.PART_OF: labels.PLATFORM},
            metrics_port_name="http", metrics_path=args.metrics_path, rule_groups=args.rule_groups,
            dashboard=board, monitoring_namespace=observability.monitoring_namespace,
            pod_labels={labels.NAME: app}, metrics_port=args.port,
            crd_dependencies=(observability.release,),
            series_labels_from_pods=dict(SERIES_LABELS_FROM_PODS)), self._child(*monitored))
        self.dashboard = self.monitoring.dashboard

    def _child(self, *depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=list(depends_on), aliases=list(self._aliases))

    def _deploy_version(self, track: str, image: pulumi.Input[str], version: str,
                        replicas: int | None) -> tuple[k8s.apps.v1.Deployment, k8s.core.v1.Service]:
        """One version of the service: its Deployment and the Service selecting only its pods."""
        args, name = self._args, self._name
        app, namespace = args.name, args.namespace.namespace
        ns = namespace.metadata.name
        object_name = app if track == "stable" else f"{app}-{track}"
        pod_labels = {**args.pod_selector(track), labels.PART_OF: labels.PLATFORM, labels.VERSION: version}
        if args.metrics_path:
            pod_labels.update(scraped_by_monitor_labels())
        spec: dict[str, Any] = {
            "selector": {"matchLabels": args.pod_selector(track)},
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": pod_labels, "annotations": self._pod_annotations()},
                         "spec": pod_spec(args, image, track)},
        }
        if replicas is not None:
            spec["replicas"] = replicas  # the stable Deployment leaves replicas to its autoscaler
        produced = [r for r in (self.config_map, self.secret) if r is not None]
        deployment = k8s.apps.v1.Deployment(
            f"{name}-{track}-deployment",
            metadata={"name": object_name, "namespace": ns,
                      "labels": {**labels.common(app, "server"), TRACK: track},
                      "annotations": {"pulumi.com/timeoutSeconds": str(ROLLOUT_TIMEOUT_SECONDS)}},
            spec=spec, opts=self._child(namespace, *produced, self.service_account, *args.wait_for))
        service = k8s.core.v1.Service(
            f"{name}-{track}-service",
            metadata={"name": object_name, "namespace": ns,
                      "labels": {**labels.common(app, "server"), TRACK: track}},
            spec={"selector": args.pod_selector(track),
                  "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}]},
            opts=self._child(namespace))
        return deployment, service

    def _pod_annotations(self) -> pulumi.Output[dict[str, str]]:
        """Scrape annotations, the caller's, and a checksum of the ConfigMap so a config change rolls
        the pods."""
        args = self._args
        scrape = ({"prometheus.io/scrape": "true", "prometheus.io/port": str(args.port),
                   "prometheus.io/path": args.metrics_path} if args.metrics_path else {})
        config = self.config_map.data if self.config_map is not None else pulumi.Output.from_input({})

        def annotate(values: list[Any]) -> dict[str, str]:
            data, extra = values
            checksum = hashlib.sha256(json.dumps(data or {}, sort_keys=True).encode()).hexdigest()
            return {**scrape, "checksum/config": checksum, **extra}
        return pulumi.Output.all(config, pulumi.Output.from_input(dict(args.pod_annotations))).apply(annotate)


def pod_spec(args: WebServiceArgs, image: pulumi.Input[str], track: str) -> dict:
    http_probe = {"port": "http", "scheme": "HTTP"}
    spread = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
              "whenUnsatisfiable": "DoNotSchedule" if args.spread_strictly else "ScheduleAnyway",
              "labelSelector": {"matchLabels": args.pod_selector(track)}}
    env = [{"name": s.env, "valueFrom": {"secretKeyRef": {"name": s.secret_name, "key": s.key}}}
           for s in args.secret_env]
    env += [{"name": var, "valueFrom": {"secretKeyRef": {"name": f"{args.name}-secrets", "key": var}}}
            for var in args.secrets]
    container: dict[str, Any] = {
        "name": args.name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": args.port, "protocol": "TCP"}],
        **({"envFrom": [{"configMapRef": {"name": f"{args.name}-config"}}]} if args.config else {}),
        **({"env": env} if env else {}),
        "resources": args.resources.as_kubernetes(),
        "startupProbe": {"httpGet": {**http_probe, "path": args.probes.liveness_path},
                         "periodSeconds": 2, "failureThreshold": args.probes.startup_seconds // 2},
        "livenessProbe": {"httpGet": {**http_probe, "path": args.probes.liveness_path},
                          "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3},
        "readinessProbe": {"httpGet": {**http_probe, "path": args.probes.readiness_path},
                           "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 2},
        "lifecycle": {"preStop": {"sleep": {"seconds": args.pre_stop_seconds}}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        **({"imagePullSecrets": [{"name": args.image_pull_secret}]} if args.image_pull_secret else {}),
        "serviceAccountName": args.name,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": termination_grace_seconds(args),
        "securityContext": {"runAsNonRoot": True, "runAsUser": args.run_as_user, "runAsGroup": args.run_as_user,
                            "fsGroup": args.run_as_user, "seccompProfile": {"type": "RuntimeDefault"}},
        "topologySpreadConstraints": [spread],
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": args.tmp_size}}],
    }


def termination_grace_seconds(args: WebServiceArgs) -> int:
    """Longer than everything a stopping pod does, so Kubernetes never SIGKILLs a drain."""
    return args.pre_stop_seconds + args.drain_seconds + GRACE_MARGIN_SECONDS
