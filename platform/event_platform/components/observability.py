"""Observability: see what the cluster is doing, and find the problem before someone reports it.

Three pinned Helm releases in the platform's `monitoring` namespace:

* kube-prometheus-stack: the Prometheus Operator, Prometheus, Alertmanager, Grafana,
  kube-state-metrics and node-exporter. Prometheus selects every ServiceMonitor, PodMonitor,
  PrometheusRule, Probe and ScrapeConfig in every namespace (the chart's `release`-label selector is
  switched off), and also scrapes pods annotated `prometheus.io/scrape` (an additional scrape job)
  unless a monitor already covers them (the `labels.SCRAPED_BY` pod label).
* Loki (grafana-community chart), monolithic: one process, filesystem storage on its own volume, or
  S3 when the stack configures a bucket. No auth (one tenant), no memcached caches, no canary.
* Grafana Alloy as a DaemonSet: each pod reads the logs of its node's pods through the Kubernetes API
  and pushes them to Loki with `namespace`, `pod` and `container` labels.

Grafana gets both datasources (kube-prometheus-stack provisions Prometheus; Loki is added), its
admin password from the secret store, every ConfigMap labelled `grafana_dashboard: "1"` in any
namespace as a dashboard, and a route through the platform Gateway on its own hostname.

Apps declare their monitors, rules and dashboards with `app_monitoring.AppMonitoring`.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels, versions
from event_platform.alerts.platform_rules import platform_rule_groups
from event_platform.components.alerting import ALERTMANAGER_RECEIVERS_SECRET
from event_platform.components.gateway import Gateway
from event_platform.components.grafana_dashboards import (
    PLATFORM_FOLDER,
    dashboard_config_map,
    dashboard_data,
)
from event_platform.components.helm import helm_release
from event_platform.components.logging_stack import (
    ALLOY_DAEMONSET,
    LOKI_STATEFULSET,
    alloy_values,
    loki_url,
    loki_values,
)
from event_platform.components.prometheus_stack import (
    GRAFANA_ADMIN_ENTRY,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_ADMIN_USER,
    GRAFANA_PASSWORD_KEY,
    GRAFANA_USER_KEY,
    PROMETHEUS_NAME,
    PROMETHEUS_POD_LABELS,
    PROMETHEUS_PORT,
    grafana_hostname,
    kube_prometheus_stack_values,
)
from event_platform.components.scraping import (
    ANNOTATION_JOB,
)
from event_platform.components.secrets import SecretEntry, SecretStore
from event_platform.config.observability import ObservabilityConfig
from event_platform.dashboards.logs import logs_dashboard
from event_platform.dashboards.platform_health import platform_health_dashboard

MONITORING_API = "monitoring.coreos.com/v1"

# ---- names the charts derive from the release names (the release name is the chart name, helm.py) ----

# ---- scraping ----

# ---- secrets ----

# ---- dashboards ----


class ObservabilityArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: ObservabilityConfig
    """Retention, storage and resources, Grafana's hostname, alert receivers."""
    namespace: k8s.core.v1.Namespace
    """The platform `monitoring` namespace (from tenancy; PSA privileged for node-exporter; the owner
    of Grafana's hostname on the Gateway)."""
    namespace_name: str
    """metadata.name of `namespace`, needed as plain text in URLs and NetworkPolicies."""
    secrets: SecretStore
    """Where Grafana's admin password and the Alertmanager receiver URLs come from."""
    gateway: Gateway
    """The platform Gateway Grafana is routed through."""
    cluster_name: str
    """Added to every series and alert as the `cluster` label."""
    storage_class: str | None = None
    """StorageClass of Prometheus's, Alertmanager's and Loki's volumes. Omitted: the default class."""


class Observability(pulumi.ComponentResource):
    """Metrics, alerts, dashboards and logs for the whole platform."""

    release: k8s.helm.v3.Release
    """The kube-prometheus-stack release; it installs the monitoring.coreos.com CRDs, so every
    ServiceMonitor/PodMonitor/PrometheusRule must depend on it."""
    loki_release: k8s.helm.v3.Release
    alloy_release: k8s.helm.v3.Release
    monitoring_namespace: str
    """Where Prometheus runs (NetworkPolicy peers in app namespaces name it)."""
    prometheus_pod_labels: dict[str, str]
    """Labels of the Prometheus server pods, for NetworkPolicies allowing scrapes."""
    prometheus_url: str
    loki_url: str
    """Loki's HTTP API inside the cluster (push: `/loki/api/v1/push`)."""
    grafana_hostname: str
    grafana_url: str
    grafana_admin_secret: pulumi.Resource
    """The ExternalSecret producing Grafana's admin credentials."""
    alertmanager_secret: pulumi.Resource | None
    """The ExternalSecret producing the receivers' URLs, when receivers are configured."""
    rules: pulumi.Resource
    """The platform's own PrometheusRule (scraping and log pipeline alerts)."""
    dashboards: tuple[k8s.core.v1.ConfigMap, ...]
    """The platform dashboards (logs, platform health)."""

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:observability:Observability", name, None, opts)
        cfg, gw, namespace = args.config, args.gateway, args.namespace
        ns = args.namespace_name
        self.monitoring_namespace = ns
        self.prometheus_pod_labels = dict(PROMETHEUS_POD_LABELS)
        self.prometheus_url = f"http://{PROMETHEUS_NAME}.{ns}.svc.cluster.local:{PROMETHEUS_PORT}"
        self.loki_url = loki_url(ns)
        self.grafana_hostname = grafana_hostname(cfg, gw.domain)
        self.grafana_url = f"{'https' if gw.https_listener else 'http'}://{self.grafana_hostname}"
        child = pulumi.ResourceOptions(parent=self)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        self.grafana_admin_secret = args.secrets.external_secret(
            f"{name}-grafana-admin", namespace=namespace, secret_name=GRAFANA_ADMIN_SECRET,
            data={"password": GRAFANA_ADMIN_ENTRY},
            template={GRAFANA_USER_KEY: GRAFANA_ADMIN_USER, GRAFANA_PASSWORD_KEY: "{{ .password }}"},
            opts=child)
        self.alertmanager_secret = None
        if cfg.alert_receivers:
            # No generated value: a webhook URL is issued by Slack (or the webhook's owner).
            self.alertmanager_secret = args.secrets.external_secret(
                f"{name}-alertmanager-receivers", namespace=namespace, secret_name=ALERTMANAGER_RECEIVERS_SECRET,
                data={r.name: SecretEntry(r.secret_key, r.secret_property, generate_length=None)
                      for r in cfg.alert_receivers},
                opts=child)

        secrets = [s for s in (self.grafana_admin_secret, self.alertmanager_secret) if s is not None]
        self.release = helm_release(
            f"{name}-kube-prometheus-stack", versions.KUBE_PROMETHEUS_STACK, namespace=namespace.metadata.name,
            values=kube_prometheus_stack_values(cfg=cfg, namespace=ns, cluster_name=args.cluster_name,
                                                storage_class=args.storage_class, gateway=gw,
                                                hostname=self.grafana_hostname),
            # Grafana's route is an HTTPRoute: the Gateway API CRDs and the Gateway come first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *secrets, gw.crds, gw.gateway]))
        # Both charts declare ServiceMonitors: the Prometheus Operator's CRDs must exist first.
        self.loki_release = helm_release(
            f"{name}-loki", versions.LOKI, namespace=namespace.metadata.name,
            values=loki_values(cfg.loki, args.storage_class),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, self.release]))
        self.alloy_release = helm_release(
            f"{name}-alloy", versions.ALLOY, namespace=namespace.metadata.name,
            values=alloy_values(f"{self.loki_url}/loki/api/v1/push"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, self.release, self.loki_release]))

        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-platform-rules",
            api_version=MONITORING_API, kind="PrometheusRule",
            metadata={"name": "platform", "namespace": namespace.metadata.name,
                      "labels": labels.common("platform", "alerts")},
            spec={"groups": list(platform_rule_groups(
                monitoring_namespace=ns, annotation_job=ANNOTATION_JOB, loki_statefulset=LOKI_STATEFULSET,
                alloy_daemonset=ALLOY_DAEMONSET))},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, self.release]))

        self.dashboards = tuple(
            dashboard_config_map(f"{name}-dashboard-{board['uid']}", name=f"dashboard-{board['uid']}",
                                 namespace=namespace.metadata.name, data=dashboard_data(board),
                                 folder=PLATFORM_FOLDER, opts=in_ns)
            for board in (logs_dashboard(),
                          platform_health_dashboard(monitoring_namespace=ns, annotation_job=ANNOTATION_JOB)))

        self.register_outputs({"grafana_url": self.grafana_url, "monitoring_namespace": ns,
                               "prometheus_url": self.prometheus_url, "loki_url": self.loki_url,
                               "release": self.release.status})
