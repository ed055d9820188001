"""Label keys and values that are contracts between components (one side sets, the other selects)."""

from __future__ import annotations

PART_OF = "app.kubernetes.io/part-of"
NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
VERSION = "app.kubernetes.io/version"
MANAGED_BY = "app.kubernetes.io/managed-by"

PLATFORM = "event-platform"

ENVIRONMENT = "event-platform.io/environment"
"""On app namespaces: the environment's name (dev, staging, production)."""

TEAM = "event-platform.io/team"
"""On app namespaces: the team that owns it (`platform` for the environments' own namespaces, which
hold the collector); RBAC, the secret stores' conditions and the docs' matrices follow it."""
PLATFORM_TEAM = "platform"
"""The team of the collector and of each environment's own namespace (`dev`, `staging`, `production`)."""

NAMESPACE_NAME = "kubernetes.io/metadata.name"
"""Set by Kubernetes on every namespace; what NetworkPolicies select namespaces by."""

POD_SECURITY = "pod-security.kubernetes.io"
"""Prefix of the Pod Security Admission labels (`/enforce`, `/audit`, `/warn`)."""

SCRAPED_BY = "monitoring.event-platform.io/scraped-by"
"""On pod templates: a Prometheus Operator monitor scrapes this pod (value `servicemonitor` or
`podmonitor`). The annotation scrape job (`prometheus.io/scrape`) skips pods carrying it, so a pod
with both the annotations and a monitor is scraped once (see components/observability.py)."""
SCRAPED_BY_SERVICE_MONITOR = "servicemonitor"
SCRAPED_BY_POD_MONITOR = "podmonitor"

GRAFANA_DASHBOARD = "grafana_dashboard"
"""ConfigMaps carrying `GRAFANA_DASHBOARD: "1"`, in any namespace, are loaded by Grafana's sidecar."""
GRAFANA_DASHBOARD_VALUE = "1"


def common(name: str, component: str | None = None) -> dict[str, str]:
    """The recommended labels every object of the platform carries."""
    labels = {NAME: name, PART_OF: PLATFORM, MANAGED_BY: "pulumi"}
    if component:
        labels[COMPONENT] = component
    return labels
