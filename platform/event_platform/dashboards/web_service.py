"""The dashboard every web service gets without writing one: replicas, restarts, CPU and memory from
the cluster's own metrics (kube-state-metrics and the kubelet's cAdvisor, both scraped by
kube-prometheus-stack), so it works for an image that serves no metrics of its own."""

from __future__ import annotations

from typing import Any

from event_platform.dashboards.grafana import PROMETHEUS, dashboard, panel


def service_dashboard(app: str) -> dict[str, Any]:
    """Dashboard JSON model (uid `service-<app>`); `$namespace` picks the environment."""
    pods = f'namespace="$namespace",pod=~"{app}-.*"'
    environment = {"name": "namespace", "label": "environment", "type": "query", "datasource": PROMETHEUS,
                   "query": f'label_values(kube_deployment_status_replicas{{deployment="{app}"}}, namespace)',
                   "refresh": 2}
    return dashboard(f"service-{app}", f"Service {app}", ["event-platform", "service", app], refresh="30s",
                     time_from="now-6h", variables=[environment], panels=[
        panel(1, "Available and desired replicas",
              [(f'kube_deployment_status_replicas_available{{namespace="$namespace",deployment=~"{app}(-canary)?"}}',
                "available {{deployment}}"),
               (f'kube_deployment_spec_replicas{{namespace="$namespace",deployment=~"{app}(-canary)?"}}',
                "desired {{deployment}}")], x=0, y=0),
        panel(2, "Container restarts (1h)",
              [(f'sum by (pod) (increase(kube_pod_container_status_restarts_total{{{pods},container="{app}"}}[1h]))',
                "{{pod}}")], x=12, y=0),
        panel(3, "CPU per pod (cores)",
              [(f'sum by (pod) (rate(container_cpu_usage_seconds_total{{{pods},container="{app}"}}[5m]))',
                "{{pod}}")], x=0, y=8),
        panel(4, "Memory per pod",
              [(f'sum by (pod) (container_memory_working_set_bytes{{{pods},container="{app}"}})', "{{pod}}")],
              x=12, y=8, unit="bytes"),
    ])
