"""How an app plugs into the platform's observability in one call: its ServiceMonitor (or PodMonitor),
its alert rules (PrometheusRule), its Grafana dashboard (a ConfigMap the sidecar loads), and the
NetworkPolicy that lets Prometheus reach the metrics port through the namespace's default deny.

An app that also keeps `prometheus.io/*` annotations on its pods (other tools read them) adds
`scraped_by_monitor_labels()` to its pod template labels, so the annotation job leaves those pods to
the ServiceMonitor and every series exists once.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any, ClassVar, Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from event_platform import labels
from event_platform.components.grafana_dashboards import dashboard_config_map, dashboard_data
from event_platform.components.network import Peer, allow_ingress
from event_platform.components.observability import MONITORING_API
from event_platform.components.prometheus_stack import PROMETHEUS_POD_LABELS
from event_platform.components.scraping import meta_label

GRAFANA_UID_MAX = 40
"""Grafana refuses dashboard uids longer than this."""


MonitorKind = Literal["ServiceMonitor", "PodMonitor"]


def scraped_by_monitor_labels(kind: MonitorKind = "ServiceMonitor") -> dict[str, str]:
    """Pod template labels for pods a ServiceMonitor (or PodMonitor) scrapes: the annotation job
    then skips them."""
    value = labels.SCRAPED_BY_SERVICE_MONITOR if kind == "ServiceMonitor" else labels.SCRAPED_BY_POD_MONITOR
    return {labels.SCRAPED_BY: value}


def namespaced_dashboard(dashboard: dict[str, Any], namespace: str) -> dict[str, Any]:
    """`dashboard` made unique to one app namespace: Grafana dashboard uids are global, and the same
    app runs in several environments (each with its own ConfigMap, in its own folder)."""
    board = copy.deepcopy(dashboard)
    uid = f"{board['uid']}-{namespace}"
    if len(uid) > GRAFANA_UID_MAX:
        uid = f"{uid[:GRAFANA_UID_MAX - 9]}-{hashlib.sha256(uid.encode()).hexdigest()[:8]}"
    board["uid"] = uid
    return board


def series_label_relabelings(series_labels_from_pods: dict[str, str]) -> list[dict[str, Any]]:
    """Monitor endpoint `relabelings` copying pod labels onto the series. The operator appends them
    after its own target labels (prometheus-operator pkg/prometheus/promcfg.go,
    generateServiceMonitorConfig), where pod discovery's `__meta_kubernetes_pod_label_*` are still
    there; `podTargetLabels` would do the same but keeps the sanitised pod label name as the label."""
    return [{"sourceLabels": [meta_label("label", pod_label)], "targetLabel": series_label, "action": "replace"}
            for series_label, pod_label in sorted(series_labels_from_pods.items())]


class AppMonitoringArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    app_name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=40)
    """Names the ServiceMonitor and PrometheusRule (`<app>`), the dashboard ConfigMap
    (`<app>-dashboard`) and the NetworkPolicy (`<app>-from-prometheus`)."""
    namespace: k8s.core.v1.Namespace
    """The app's namespace: everything is declared there."""
    monitor_kind: MonitorKind = "ServiceMonitor"
    """`ServiceMonitor`: scrape through the Service(s) carrying `selector_labels`. `PodMonitor`:
    scrape the pods carrying `pod_labels` directly (an app without a Service). Omitted: ServiceMonitor."""
    service: k8s.core.v1.Service | None = None
    """The app's Service (the ServiceMonitor waits for it). Required for a ServiceMonitor."""
    selector_labels: dict[str, str] = {}
    """Labels on the Service(s) the ServiceMonitor selects: every Service carrying them (e.g. the
    stable and the canary Service) is scraped, each through its own endpoints. Required for a
    ServiceMonitor; a PodMonitor selects `pod_labels`."""
    metrics_port_name: str = "http"
    """Name of the port serving metrics: a Service port for a ServiceMonitor, a container port for a
    PodMonitor. Omitted: `http`."""
    metrics_path: str = Field(default="/metrics", pattern=r"^/")
    """Omitted: /metrics."""
    rule_groups: tuple[dict, ...] = ()
    """Prometheus rule groups (`name`, `rules` of `alert`/`record`, `expr`, `for`, `labels`,
    `annotations`). Omitted: no PrometheusRule."""
    dashboard: dict | None = None
    """Grafana dashboard JSON model with a `uid` and `title`. Its uid gets the namespace appended.
    Omitted: no dashboard."""
    monitoring_namespace: str
    """Where Prometheus runs (the NetworkPolicy's source namespace)."""
    pod_labels: dict[str, str] = Field(min_length=1)
    """Labels of the app's pods: the NetworkPolicy opens their metrics port to Prometheus. (For app
    namespaces, which deny ingress by default; elsewhere the policy would isolate the pods.)"""
    metrics_port: int = Field(ge=1, le=65535)
    """The container port serving metrics (what the NetworkPolicy opens)."""
    crd_dependencies: tuple[pulumi.Resource, ...] = ()
    """What installs the monitoring.coreos.com CRDs (`Observability.release`). Omitted: nothing."""
    scrape_interval: str | None = Field(default=None, pattern=r"^[0-9]+(ms|s|m|h)$")
    """Omitted: Prometheus's global interval (30s)."""
    series_labels_from_pods: dict[str, str] = {}
    """Series label -> pod label whose value it takes on every series of the pod (e.g. `version`
    from `app.kubernetes.io/version`): what tells a canary's series from the stable version's on
    one panel. Omitted: none (the operator's own namespace/service/pod/container/job/endpoint)."""

    @model_validator(mode="after")
    def _service_monitor_needs_a_service(self) -> AppMonitoringArgs:
        if self.monitor_kind == "ServiceMonitor" and (self.service is None or not self.selector_labels):
            raise ValueError("a ServiceMonitor needs `service` and `selector_labels`; use monitor_kind="
                             "PodMonitor for an app without a Service")
        return self

    @field_validator("rule_groups")
    @classmethod
    def _rule_groups(cls, groups: tuple[dict, ...]) -> tuple[dict, ...]:
        names = [g.get("name") for g in groups]
        if len(set(names)) != len(names):
            raise ValueError(f"rule group names must be unique, got {names}")
        for group in groups:
            if not group.get("name") or not group.get("rules"):
                raise ValueError(f"a rule group needs a name and at least one rule, got {sorted(group)}")
            for rule in group["rules"]:
                if ("alert" in rule) == ("record" in rule) or not rule.get("expr"):
                    raise ValueError(f"rule group {group['name']}: each rule needs `expr` and exactly one of "
                                     f"`alert` or `record`, got {sorted(rule)}")
        return groups

    @field_validator("dashboard")
    @classmethod
    def _dashboard(cls, dashboard: dict | None) -> dict | None:
        if dashboard is not None and not (dashboard.get("uid") and dashboard.get("title")):
            raise ValueError("a dashboard needs a `uid` and a `title`")
        return dashboard


class AppMonitoring(pulumi.ComponentResource):
    """An app's ServiceMonitor (or PodMonitor), PrometheusRule, dashboard ConfigMap and scrape
    NetworkPolicy."""

    POD_LABELS: ClassVar[dict[str, str]] = scraped_by_monitor_labels()
    """What to add to the app's pod template labels with a ServiceMonitor (see the module docstring;
    with a PodMonitor: `scraped_by_monitor_labels("PodMonitor")`)."""

    monitor: k8s.apiextensions.CustomResource
    """The ServiceMonitor or the PodMonitor."""
    service_monitor: k8s.apiextensions.CustomResource | None
    """The ServiceMonitor (None with a PodMonitor)."""
    pod_monitor: k8s.apiextensions.CustomResource | None
    """The PodMonitor (None with a ServiceMonitor)."""
    rule: k8s.apiextensions.CustomResource | None
    """The PrometheusRule, when the app has rule groups."""
    dashboard: k8s.core.v1.ConfigMap | None
    """The dashboard ConfigMap (folder: the namespace's name), when the app has a dashboard."""
    network_policy: k8s.networking.v1.NetworkPolicy
    """Prometheus -> the app's pods on the metrics port."""

    def __init__(self, name: str, args: AppMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:observability:AppMonitoring", name, None, opts)
        app, namespace = args.app_name, args.namespace
        ns = namespace.metadata.name
        crds = pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.crd_dependencies])

        endpoint: dict[str, Any] = {"port": args.metrics_port_name, "path": args.metrics_path, "scheme": "http"}
        if args.scrape_interval:
            endpoint["interval"] = args.scrape_interval
        if args.series_labels_from_pods:
            endpoint["relabelings"] = series_label_relabelings(args.series_labels_from_pods)
        metadata = {"name": app, "namespace": ns, "labels": labels.common(app, "monitoring")}
        self.service_monitor = self.pod_monitor = None
        if args.monitor_kind == "ServiceMonitor":
            assert args.service is not None  # checked by AppMonitoringArgs
            self.monitor = self.service_monitor = k8s.apiextensions.CustomResource(
                f"{name}-service-monitor",
                api_version=MONITORING_API, kind="ServiceMonitor", metadata=metadata,
                spec={"selector": {"matchLabels": dict(args.selector_labels)}, "endpoints": [endpoint]},
                opts=pulumi.ResourceOptions(parent=self,
                                            depends_on=[namespace, *filter(None, [args.service]),
                                                        *args.crd_dependencies]))
        else:
            self.monitor = self.pod_monitor = k8s.apiextensions.CustomResource(
                f"{name}-pod-monitor",
                api_version=MONITORING_API, kind="PodMonitor", metadata=metadata,
                spec={"selector": {"matchLabels": dict(args.pod_labels)}, "podMetricsEndpoints": [endpoint]},
                opts=crds)

        self.rule = None
        if args.rule_groups:
            self.rule = k8s.apiextensions.CustomResource(
                f"{name}-rules",
                api_version=MONITORING_API, kind="PrometheusRule",
                metadata={"name": app, "namespace": ns, "labels": labels.common(app, "alerts")},
                spec={"groups": [dict(g) for g in args.rule_groups]},
                opts=crds)

        self.dashboard = None
        if args.dashboard is not None:
            board = args.dashboard
            self.dashboard = dashboard_config_map(
                f"{name}-dashboard", name=f"{app}-dashboard", namespace=ns,
                data=ns.apply(lambda n: dashboard_data(namespaced_dashboard(board, n))), folder=ns,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]))

        self.network_policy = allow_ingress(
            f"{name}-from-prometheus", namespace=ns, policy_name=f"{app}-from-prometheus",
            to_pods=dict(args.pod_labels), sources=[Peer(args.monitoring_namespace, dict(PROMETHEUS_POD_LABELS))],
            ports=[args.metrics_port], opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]))

        self.register_outputs({"monitor": self.monitor.metadata["name"], "kind": args.monitor_kind,
                               "rule": self.rule.metadata["name"] if self.rule else None,
                               "dashboard": self.dashboard.metadata.name if self.dashboard else None})
