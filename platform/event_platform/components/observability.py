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

import json
import re
import textwrap
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels, versions
from event_platform.alerts.platform_rules import platform_rule_groups
from event_platform.components.gateway import Gateway
from event_platform.components.helm import helm_release
from event_platform.components.http_route import parent_ref
from event_platform.components.secrets import SecretEntry, SecretStore
from event_platform.config import AlertReceiverConfig, LokiConfig, ObservabilityConfig, quantity_bytes
from event_platform.dashboards.logs import logs_dashboard
from event_platform.dashboards.platform_health import platform_health_dashboard

MONITORING_API = "monitoring.coreos.com/v1"

# ---- names the charts derive from the release names (the release name is the chart name, helm.py) ----
KPS_RELEASE = versions.KUBE_PROMETHEUS_STACK.name
"""kube-prometheus-stack's release name; its `fullname` (<= 26 characters) prefixes its objects."""
PROMETHEUS_NAME = f"{KPS_RELEASE}-prometheus"
"""The Prometheus custom resource, and the Service in front of its pods (templates/prometheus/)."""
PROMETHEUS_PORT = 9090
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": PROMETHEUS_NAME}
"""Labels of the Prometheus server pods (what the chart's own Service selects): NetworkPolicies in app
namespaces allow ingress from these pods in the monitoring namespace."""
ALERTMANAGER_NAME = f"{KPS_RELEASE}-alertmanager"
GRAFANA_SERVICE = f"{KPS_RELEASE}-grafana"
"""The Grafana subchart's Service (`grafana.fullname`: release name + `-grafana`)."""
GRAFANA_SERVICE_PORT = 80
LOKI_RELEASE = versions.LOKI.name
LOKI_SERVICE = LOKI_RELEASE
"""Monolithic Loki's Service is `loki.fullname` (the release name) when the chart's gateway is off."""
LOKI_PORT = 3100
"""`loki.server.http_listen_port` (chart default)."""
LOKI_STATEFULSET = LOKI_RELEASE
ALLOY_RELEASE = versions.ALLOY.name
ALLOY_DAEMONSET = ALLOY_RELEASE

# ---- scraping ----
ANNOTATION_JOB = "kubernetes-pods"
"""Job name of the additional scrape config that scrapes annotated pods."""
SCRAPE_ANNOTATION = "prometheus.io/scrape"
PORT_ANNOTATION = "prometheus.io/port"
PATH_ANNOTATION = "prometheus.io/path"
SCHEME_ANNOTATION = "prometheus.io/scheme"
MONITOR_SCRAPED = (labels.SCRAPED_BY_SERVICE_MONITOR, labels.SCRAPED_BY_POD_MONITOR)
"""Values of `labels.SCRAPED_BY` that make the annotation job skip a pod."""

# ---- secrets ----
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER = "admin"
GRAFANA_ADMIN_ENTRY = SecretEntry("grafana-admin", "password")
"""Store entry of Grafana's admin password (the dev store generates it)."""
GRAFANA_USER_KEY = "admin-user"
GRAFANA_PASSWORD_KEY = "admin-password"
ALERTMANAGER_RECEIVERS_SECRET = "alertmanager-receivers"
ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets"
"""Where the Prometheus Operator mounts `alertmanagerSpec.secrets` (one folder per Secret)."""

# ---- dashboards ----
DASHBOARD_LABELS = {labels.GRAFANA_DASHBOARD: labels.GRAFANA_DASHBOARD_VALUE}
DASHBOARD_FOLDER_ANNOTATION = "grafana_folder"
"""Annotation naming the Grafana folder a dashboard ConfigMap goes into (sidecar `folderAnnotation`)."""
PLATFORM_FOLDER = "Platform"

# Requests that get these pieces scheduled with a guarantee; memory limits so a leak cannot take a
# node down; no CPU limits (throttling a scraper or a log shipper only makes it fall behind).
SMALL = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
OPERATOR_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
GRAFANA_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
ALERTMANAGER_RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
ALLOY_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
ALERTMANAGER_STORAGE = "1Gi"
"""Alertmanager keeps silences and the notification log on it: a restart must not resend everything."""
PROMETHEUS_DISK_SHARE = 0.85
"""Prometheus deletes old blocks once they use this share of its volume, before retention time does:
a full disk stops ingestion, an early deletion only shortens history."""


def meta_label(prefix: str, key: str) -> str:
    """The service-discovery meta label of a pod label or annotation (`prefix`: `label`,
    `annotation`): Prometheus turns every character that cannot appear in a label name into `_`."""
    return f"__meta_kubernetes_pod_{prefix}_{re.sub(r'[^a-zA-Z0-9_]', '_', key)}"


def annotation_scrape_config() -> dict[str, Any]:
    """The additional scrape job for pods annotated `prometheus.io/scrape: "true"` (with
    `prometheus.io/port`, `/path`, `/scheme`), the convention many charts and apps follow.

    A pod carrying `labels.SCRAPED_BY` is skipped: a ServiceMonitor or PodMonitor scrapes it, and
    scraping it here too would double every series. The job keeps no port-specific label, so the
    one target per container port that pod discovery yields collapses into one once the port
    annotation has set the address.
    """
    return {
        "job_name": ANNOTATION_JOB,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {"source_labels": [meta_label("annotation", SCRAPE_ANNOTATION)], "regex": "true", "action": "keep"},
            {"source_labels": [meta_label("label", labels.SCRAPED_BY)], "regex": "|".join(MONITOR_SCRAPED),
             "action": "drop"},
            {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Pending|Succeeded|Failed",
             "action": "drop"},
            {"source_labels": [meta_label("annotation", SCHEME_ANNOTATION)], "regex": "(https?)",
             "target_label": "__scheme__", "action": "replace"},
            {"source_labels": [meta_label("annotation", PATH_ANNOTATION)], "regex": "(.+)",
             "target_label": "__metrics_path__", "action": "replace"},
            {"source_labels": ["__address__", meta_label("annotation", PORT_ANNOTATION)],
             "regex": r"([^:]+)(?::\d+)?;(\d+)", "replacement": "$1:$2", "target_label": "__address__",
             "action": "replace"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace", "action": "replace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod", "action": "replace"},
        ],
    }


def annotation_scraping_applies(pod_labels: Mapping[str, str], pod_annotations: Mapping[str, str]) -> bool:
    """Whether the annotation job scrapes a pod with these labels and annotations (the same decision
    as `annotation_scrape_config`'s relabelling; tests/test_observability.py proves they agree)."""
    return pod_annotations.get(SCRAPE_ANNOTATION) == "true" and pod_labels.get(labels.SCRAPED_BY) not in MONITOR_SCRAPED


def grafana_hostname(cfg: ObservabilityConfig, domain: str) -> str:
    """Grafana's own hostname: the configured one, else `grafana.<domain>`."""
    return cfg.grafana_hostname or f"grafana.{domain}"


def _volume_claim(size: str, storage_class: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"volumeClaimTemplate": {"spec": spec}}


def retention_size(storage_size: str) -> str:
    """Prometheus's `retentionSize` for a volume of `storage_size` (in MB: Prometheus's units are
    powers of two, so `MB` means MiB)."""
    return f"{int(quantity_bytes(storage_size) * PROMETHEUS_DISK_SHARE) // 2**20}MB"


def alertmanager_config(receivers: tuple[AlertReceiverConfig, ...]) -> dict[str, Any]:
    """Alertmanager's configuration. Every receiver gets every warning and critical alert; the URLs
    are read from files of the mounted receivers Secret (`api_url_file`: Alertmanager >= 0.22 for
    Slack, `url_file`: >= 0.26 for webhooks; the chart runs 0.34), never written here."""
    routes: list[dict[str, Any]] = [
        # Watchdog always fires (it proves the alerting pipeline works); InfoInhibitor only mutes.
        {"receiver": "null", "matchers": ['alertname =~ "Watchdog|InfoInhibitor"']},
    ]
    configs = []
    for r in receivers:
        url_file = f"{ALERTMANAGER_SECRETS_DIR}/{ALERTMANAGER_RECEIVERS_SECRET}/{r.name}"
        if r.type == "slack":
            configs.append({"name": r.name, "slack_configs": [{"api_url_file": url_file, "send_resolved": True}]})
        else:
            configs.append({"name": r.name, "webhook_configs": [{"url_file": url_file, "send_resolved": True}]})
        routes.append({"receiver": r.name, "matchers": ['severity =~ "warning|critical"'], "continue": True})
    return {
        "global": {"resolve_timeout": "5m"},
        # The chart's defaults: a critical alert mutes the warning of the same name and namespace.
        "inhibit_rules": [
            {"source_matchers": ["severity = critical"], "target_matchers": ["severity =~ warning|info"],
             "equal": ["namespace", "alertname"]},
            {"source_matchers": ["severity = warning"], "target_matchers": ["severity = info"],
             "equal": ["namespace", "alertname"]},
            {"source_matchers": ["alertname = InfoInhibitor"], "target_matchers": ["severity = info"],
             "equal": ["namespace"]},
            {"target_matchers": ["alertname = InfoInhibitor"]},
        ],
        "route": {"receiver": "null", "group_by": ["namespace", "alertname"], "group_wait": "30s",
                  "group_interval": "5m", "repeat_interval": "12h", "routes": routes},
        "receivers": [{"name": "null"}, *configs],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


def loki_datasource(namespace: str) -> dict[str, Any]:
    """Grafana's Loki datasource (uid `loki`, which the dashboards refer to)."""
    return {"name": "Loki", "type": "loki", "uid": "loki", "access": "proxy", "isDefault": False,
            "url": loki_url(namespace), "editable": False, "jsonData": {"maxLines": 1000}}


def loki_url(namespace: str) -> str:
    return f"http://{LOKI_SERVICE}.{namespace}.svc.cluster.local:{LOKI_PORT}"


def kube_prometheus_stack_values(*, cfg: ObservabilityConfig, namespace: str, cluster_name: str,
                                 storage_class: str | None, gateway: Gateway, hostname: str) -> dict[str, Any]:
    """kube-prometheus-stack 88.5.3 values (operator v0.93.1, Grafana subchart 12.11.1)."""
    prom = cfg.prometheus
    listener = gateway.listener_for(hostname)  # issue 12: per-hostname listeners
    scheme = "https" if gateway.https_listener else "http"
    alertmanager_spec: dict[str, Any] = {
        "resources": ALERTMANAGER_RESOURCES,
        "storage": _volume_claim(ALERTMANAGER_STORAGE, storage_class),
    }
    if cfg.alert_receivers:
        alertmanager_spec["secrets"] = [ALERTMANAGER_RECEIVERS_SECRET]
    return {
        # Control-plane components neither kind nor a managed cluster lets Prometheus reach (they
        # listen on the node's loopback, or are hidden by the provider): their monitors and alerts
        # would only ever report them down.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "prometheusOperator": {"resources": OPERATOR_RESOURCES},
        "kube-state-metrics": {"resources": SMALL},
        "prometheus-node-exporter": {"resources": SMALL},
        "prometheus": {"prometheusSpec": {
            "retention": prom.retention,
            "retentionSize": retention_size(prom.storage_size),
            "storageSpec": _volume_claim(prom.storage_size, storage_class),
            "resources": prom.resources.as_kubernetes(),
            "externalLabels": {"cluster": cluster_name},
            # Empty selectors, and the chart must not replace them with `release: <name>`: every
            # monitor and rule in every namespace is ours to scrape, whatever its labels.
            "serviceMonitorSelectorNilUsesHelmValues": False,
            "podMonitorSelectorNilUsesHelmValues": False,
            "ruleSelectorNilUsesHelmValues": False,
            "probeSelectorNilUsesHelmValues": False,
            "scrapeConfigSelectorNilUsesHelmValues": False,
            "additionalScrapeConfigs": [annotation_scrape_config()],
        }},
        "alertmanager": {"alertmanagerSpec": alertmanager_spec, "config": alertmanager_config(cfg.alert_receivers)},
        "grafana": {
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": GRAFANA_USER_KEY,
                      "passwordKey": GRAFANA_PASSWORD_KEY},
            "resources": GRAFANA_RESOURCES,
            "grafana.ini": {
                "server": {"root_url": f"{scheme}://{hostname}/"},
                "analytics": {"reporting_enabled": False, "check_for_updates": False},
                "users": {"allow_sign_up": False},
                "auth.anonymous": {"enabled": False},
            },
            "sidecar": {
                "dashboards": {"enabled": True, "label": labels.GRAFANA_DASHBOARD,
                               "labelValue": labels.GRAFANA_DASHBOARD_VALUE, "searchNamespace": "ALL",
                               "folderAnnotation": DASHBOARD_FOLDER_ANNOTATION,
                               "provider": {"foldersFromFilesStructure": True}},
                # the chart provisions the Prometheus datasource (uid `prometheus`) from these
                "datasources": {"enabled": True, "defaultDatasourceEnabled": True, "uid": "prometheus"},
            },
            "additionalDataSources": [loki_datasource(namespace)],
            # The chart owns the Grafana Service, so it renders the route to it too (name and port
            # stay in step); it attaches to the platform Gateway like any app route.
            "route": {"main": {"enabled": True, "hostnames": [hostname],
                               "parentRefs": [parent_ref(gateway, listener)],
                               "labels": labels.common("grafana", "route")}},
        },
    }


def loki_values(cfg: LokiConfig, storage_class: str | None) -> dict[str, Any]:
    """Loki 18.11.0 (grafana-community) values: monolithic, one replica, one tenant."""
    object_store = "s3" if cfg.s3 else "filesystem"
    storage: dict[str, Any] = {"type": object_store}
    if cfg.s3 is not None:
        s3: dict[str, Any] = {"region": cfg.s3.region}
        if cfg.s3.endpoint:
            s3["endpoint"] = cfg.s3.endpoint
        storage |= {"bucketNames": {"chunks": cfg.s3.bucket, "ruler": cfg.s3.bucket, "admin": cfg.s3.bucket},
                    "s3": s3}
    persistence: dict[str, Any] = {"enabled": True, "size": cfg.storage_size}
    if storage_class:
        persistence["storageClass"] = storage_class
    values: dict[str, Any] = {
        "deploymentMode": "Monolithic",
        "loki": {
            "auth_enabled": False,  # one tenant (`fake`); Grafana and Alloy send no tenant header
            "commonConfig": {"replication_factor": 1},
            "storage": storage,
            "schemaConfig": {"configs": [{
                "from": "2024-04-01", "store": "tsdb", "object_store": object_store, "schema": "v13",
                "index": {"prefix": "loki_index_", "period": "24h"}}]},
            "limits_config": {"retention_period": cfg.retention},
            # retention is applied by the compactor, which needs somewhere to keep delete requests
            "compactor": {"retention_enabled": True, "delete_request_store": object_store,
                          "working_directory": "/var/loki/compactor"},
            "analytics": {"reporting_enabled": False},
        },
        "singleBinary": {"replicas": 1, "resources": cfg.resources.as_kubernetes(), "persistence": persistence},
        # the simple-scalable targets default to 3 replicas each; monolithic runs none of them
        "read": {"replicas": 0}, "write": {"replicas": 0}, "backend": {"replicas": 0},
        # Grafana and Alloy talk to the single Loki Service; an nginx in front adds nothing here.
        "gateway": {"enabled": False},
        # Memcached caches default to an 8 GB chunks cache: sized for clusters, not for one process.
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "ruler": {"enabled": False},  # alerts come from Prometheus
        "monitoring": {"serviceMonitor": {"enabled": True}},
    }
    if cfg.s3 is not None and cfg.s3.role_arn:
        values["serviceAccount"] = {"annotations": {"eks.amazonaws.com/role-arn": cfg.s3.role_arn}}
    return values


def alloy_config(loki_push_url: str) -> str:
    """Alloy's configuration (River syntax).

    `loki.source.kubernetes` reads container logs through the Kubernetes API (the chart's default
    RBAC grants `pods` and `pods/log` get/list/watch), so Alloy needs no hostPath and no root. Each
    DaemonSet pod discovers only its own node's pods (the chart sets HOSTNAME to the node's name), so
    every container is tailed once.
    """
    return textwrap.dedent(f"""\
        // Pods on this node only: one Alloy per node, each container tailed by exactly one of them.
        discovery.kubernetes "pods" {{
          role = "pod"
          selectors {{
            role  = "pod"
            field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
          }}
        }}

        discovery.relabel "pods" {{
          targets = discovery.kubernetes.pods.targets

          rule {{
            source_labels = ["__meta_kubernetes_namespace"]
            target_label  = "namespace"
          }}
          rule {{
            source_labels = ["__meta_kubernetes_pod_name"]
            target_label  = "pod"
          }}
          rule {{
            source_labels = ["__meta_kubernetes_pod_container_name"]
            target_label  = "container"
          }}
          rule {{
            source_labels = ["__meta_kubernetes_pod_node_name"]
            target_label  = "node"
          }}
        }}

        loki.source.kubernetes "pods" {{
          targets    = discovery.relabel.pods.output
          forward_to = [loki.write.default.receiver]
        }}

        loki.write "default" {{
          endpoint {{
            url = "{loki_push_url}"
          }}
        }}
        """)


def alloy_values(loki_push_url: str) -> dict[str, Any]:
    """Alloy 1.11.1 values: a DaemonSet running `alloy_config`."""
    return {
        "controller": {"type": "daemonset",
                       # logs of pods on tainted nodes (system pools) matter as much as any
                       "tolerations": [{"operator": "Exists"}]},
        "alloy": {"configMap": {"create": True, "content": alloy_config(loki_push_url)},
                  "enableReporting": False, "resources": ALLOY_RESOURCES},
        "crds": {"create": False},  # PodLogs CRDs: this configuration does not use them
        "serviceMonitor": {"enabled": True},
    }


def dashboard_data(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """ConfigMap data holding one dashboard (indented: reviewable in the rendered YAML)."""
    return {f"{dashboard['uid']}.json": json.dumps(dashboard, indent=2, sort_keys=True)}


def dashboard_config_map(resource_name: str, *, name: str, namespace: pulumi.Input[str],
                         data: pulumi.Input[Mapping[str, str]], folder: pulumi.Input[str],
                         opts: pulumi.ResourceOptions) -> k8s.core.v1.ConfigMap:
    """A ConfigMap Grafana's dashboard sidecar loads (from any namespace) into `folder`."""
    return k8s.core.v1.ConfigMap(
        resource_name,
        metadata={"name": name, "namespace": namespace,
                  "labels": {**labels.common(name, "dashboard"), **DASHBOARD_LABELS},
                  "annotations": {DASHBOARD_FOLDER_ANNOTATION: folder}},
        data=data, opts=opts)


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
