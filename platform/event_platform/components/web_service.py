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
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform import labels
from event_platform.components.app_monitoring import (
    AppMonitoring,
    AppMonitoringArgs,
    namespaced_dashboard,
    scraped_by_monitor_labels,
)
from event_platform.components.http_route import HttpRoute, HttpRouteArgs, RouteBackend
from event_platform.components.observability import Observability, dashboard_config_map, dashboard_data
from event_platform.components.web_service_args import (
    SERIES_LABELS_FROM_PODS,
    TRACK,
    WebServiceArgs,
    version_label,
)
from event_platform.components.web_service_pods import pod_spec
from event_platform.dashboards.web_service import service_dashboard

SERVICE_PORT = 80
ROLLOUT_TIMEOUT_SECONDS = 1200
"""How long `pulumi up` waits for a rollout (pulumi.com/timeoutSeconds): a first bring-up on a slow
laptop pulls images and waits for its database first."""


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


