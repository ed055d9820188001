"""The collector's Grafana dashboard: ingest by source, latency quantiles, errors, memory, and the
running image version so a deploy is visible on every graph."""

from __future__ import annotations

from typing import Any

from event_platform.dashboards.grafana import PROMETHEUS, dashboard, panel

NS = 'namespace="$namespace"'
TRAFFIC = f'{NS},route!~"/metrics|/healthz|/readyz"'
"""User traffic only: probes and scrapes would dilute latency and error signals."""


def collector_dashboard() -> dict[str, Any]:
    """Dashboard JSON model (uid `event-collector`); `$namespace` picks the environment."""
    environment = {"name": "namespace", "label": "environment", "type": "query", "datasource": PROMETHEUS,
                   "query": "label_values(collector_events_total, namespace)", "refresh": 2}
    deploys = {"name": "Deploys", "enable": True, "iconColor": "blue", "datasource": PROMETHEUS,
               "expr": f'changes(kube_deployment_status_observed_generation{{{NS},deployment=~"collector.*"}}[2m]) > 0',
               "titleFormat": "collector rolled out"}
    quantiles = [((f"histogram_quantile({q}, sum by (le) (rate(collector_request_duration_seconds_bucket"
                   f"{{{TRAFFIC}}}[5m])))"), f"p{round(q * 100)}") for q in (0.5, 0.9, 0.99)]
    return dashboard("event-collector", "Event collector", ["event-platform", "collector"], refresh="30s",
                     time_from="now-6h", variables=[environment], annotations=[deploys], panels=[
        panel(1, "Events ingested per second, by source",
              [(f"sum by (source) (rate(collector_events_total{{{NS}}}[5m]))", "{{source}}")], x=0, y=0, unit="ops"),
        panel(2, "Request latency quantiles", quantiles, x=12, y=0, unit="s"),
        panel(3, "Error rate (5xx share) and client errors by kind",
              [((f'sum(rate(collector_requests_total{{{TRAFFIC},status=~"5.."}}[5m])) / '
                 f"sum(rate(collector_requests_total{{{TRAFFIC}}}[5m]))"), "5xx share"),
               (f"sum by (kind) (rate(collector_errors_total{{{NS}}}[5m]))", "{{kind}}")],
              x=0, y=8, unit="percentunit"),
        panel(4, "Resident memory per pod",
              [(f'process_resident_memory_bytes{{{NS},service=~"collector.*"}}', "{{pod}}")], x=12, y=8, unit="bytes"),
        panel(5, "Running image version",
              [(f'count by (image) (kube_pod_container_info{{{NS},container="collector"}})', "{{image}}")],
              x=0, y=16, w=24, kind="table"),
    ])
