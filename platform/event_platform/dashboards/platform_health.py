"""Platform health: is monitoring itself working? Scrape targets, firing alerts, and the log
pipeline (Alloy -> Loki). kube-prometheus-stack ships the cluster dashboards (nodes, pods,
workloads); this one covers what the platform adds."""

from __future__ import annotations

from typing import Any

PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
"""The Prometheus datasource kube-prometheus-stack provisions (`grafana.sidecar.datasources.uid`)."""


def _panel(panel_id: int, title: str, targets: list[tuple[str, str]], *, x: int, y: int, unit: str,
           kind: str = "timeseries", w: int = 12, h: int = 8) -> dict[str, Any]:
    return {"id": panel_id, "type": kind, "title": title, "datasource": PROMETHEUS,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(65 + i), "datasource": PROMETHEUS, "expr": expr, "legendFormat": legend}
                        for i, (expr, legend) in enumerate(targets)]}


def platform_health_dashboard(*, monitoring_namespace: str, annotation_job: str) -> dict[str, Any]:
    """Dashboard JSON model (uid `platform-health`)."""
    ns = f'namespace="{monitoring_namespace}"'
    return {
        "uid": "platform-health",
        "title": "Platform health",
        "tags": ["event-platform", "monitoring"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "panels": [
            _panel(1, "Scrape targets down", [("up == 0", "{{job}} {{namespace}}/{{pod}}")],
                   x=0, y=0, unit="short", kind="table", w=12),
            _panel(2, "Targets up, by job", [("sum by (job) (up)", "{{job}}")], x=12, y=0, unit="short"),
            _panel(3, "Firing alerts, by severity",
                   [('count by (severity) (ALERTS{alertstate="firing"})', "{{severity}}")], x=0, y=8, unit="short"),
            _panel(4, "Pods scraped through their prometheus.io annotations",
                   [(f'count by (namespace) (up{{job="{annotation_job}"}})', "{{namespace}}")],
                   x=12, y=8, unit="short"),
            _panel(5, "Log lines received by Loki per second",
                   [(f"sum(rate(loki_distributor_lines_received_total{{{ns}}}[5m]))", "lines/s")],
                   x=0, y=16, unit="short"),
            _panel(6, "Log entries sent and dropped by Alloy per second",
                   [(f"sum(rate(loki_write_sent_entries_total{{{ns}}}[5m]))", "sent"),
                    (f"sum(rate(loki_write_dropped_entries_total{{{ns}}}[5m]))", "dropped")],
                   x=12, y=16, unit="short"),
            _panel(7, "Prometheus head series", [("sum(prometheus_tsdb_head_series)", "series")],
                   x=0, y=24, unit="short"),
            _panel(8, "Prometheus storage used",
                   [("sum(prometheus_tsdb_storage_blocks_bytes) + sum(prometheus_tsdb_wal_storage_size_bytes)",
                     "bytes")], x=12, y=24, unit="bytes"),
        ],
    }
