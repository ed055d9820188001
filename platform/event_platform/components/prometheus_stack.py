"""kube-prometheus-stack: the Prometheus Operator, Prometheus, Alertmanager and Grafana; the names
the chart derives from its release name, the resources of its pieces, and its values."""

from __future__ import annotations

from typing import Any

from event_platform import labels, versions
from event_platform.components.alerting import ALERTMANAGER_RECEIVERS_SECRET, alertmanager_config
from event_platform.components.gateway import Gateway
from event_platform.components.grafana_dashboards import (
    DASHBOARD_FOLDER_ANNOTATION,
)
from event_platform.components.http_route import parent_ref
from event_platform.components.logging_stack import (
    loki_datasource,
)
from event_platform.components.scraping import (
    annotation_scrape_config,
)
from event_platform.components.secrets import SecretEntry
from event_platform.config.base import quantity_bytes
from event_platform.config.observability import ObservabilityConfig

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


GRAFANA_ADMIN_SECRET = "grafana-admin"


GRAFANA_ADMIN_USER = "admin"


GRAFANA_ADMIN_ENTRY = SecretEntry("grafana-admin", "password")
"""Store entry of Grafana's admin password (the dev store generates it)."""


GRAFANA_USER_KEY = "admin-user"


GRAFANA_PASSWORD_KEY = "admin-password"


# Requests that get these pieces scheduled with a guarantee; memory limits so a leak cannot take a
# node down; no CPU limits (throttling a scraper or a log shipper only makes it fall behind).
SMALL = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}


OPERATOR_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}


GRAFANA_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}


ALERTMANAGER_RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}


ALERTMANAGER_STORAGE = "1Gi"
"""Alertmanager keeps silences and the notification log on it: a restart must not resend everything."""


PROMETHEUS_DISK_SHARE = 0.85
"""Prometheus deletes old blocks once they use this share of its volume, before retention time does:
a full disk stops ingestion, an early deletion only shortens history."""


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
