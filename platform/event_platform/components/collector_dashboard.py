"""The collector's Grafana dashboard as code: ingest by source, latency quantiles, errors, memory,
and the running image version so a deploy is visible on every graph."""

from __future__ import annotations

from typing import Any

NS = 'namespace="$namespace"'


def _panel(panel_id: int, title: str, targets: list[tuple[str, str]], x: int, y: int, unit: str,
           kind: str = "timeseries", w: int = 12) -> dict[str, Any]:
    return {
        "id": panel_id, "type": kind, "title": title, "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": w, "h": 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(65 + i), "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)],
    }


def collector_dashboard() -> dict[str, Any]:
    """Dashboard JSON model; `$namespace` picks the environment."""
    traffic = f'{NS},route!~"/metrics|/healthz|/readyz"'
    return {
        "uid": "event-collector",
        "title": "Event collector",
        "tags": ["event-platform", "collector"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus"},
            {"name": "namespace", "type": "query", "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": "label_values(collector_events_total, namespace)", "refresh": 2},
        ]},
        "annotations": {"list": [{
            "name": "Deploys", "enable": True, "iconColor": "blue",
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "expr": f'changes(kube_deployment_status_observed_generation{{{NS},deployment=~"collector.*"}}[2m]) > 0',
            "titleFormat": "collector rolled out",
        }]},
        "panels": [
            _panel(1, "Events ingested per second, by source",
                   [(f"sum by (source) (rate(collector_events_total{{{NS}}}[5m]))", "{{source}}")], 0, 0, "ops"),
            _panel(2, "Request latency quantiles",
                   [(f"histogram_quantile({q}, sum by (le) (rate(collector_request_duration_seconds_bucket"
                     f"{{{traffic}}}[5m])))", f"p{int(q * 100)}") for q in (0.5, 0.9, 0.99)], 12, 0, "s"),
            _panel(3, "Error rate (5xx share) and client errors by kind",
                   [(f'sum(rate(collector_requests_total{{{traffic},status=~"5.."}}[5m])) / '
                     f"sum(rate(collector_requests_total{{{traffic}}}[5m]))", "5xx share"),
                    (f"sum by (kind) (rate(collector_errors_total{{{NS}}}[5m]))", "{{kind}}")], 0, 8, "percentunit"),
            _panel(4, "Resident memory per pod",
                   [(f'process_resident_memory_bytes{{{NS},service=~"collector.*"}}', "{{pod}}")], 12, 8, "bytes"),
            _panel(5, "Running image version",
                   [(f'count by (image) (kube_pod_container_info{{{NS},container="collector"}})', "{{image}}")],
                   0, 16, "short", kind="table", w=24),
        ],
    }
