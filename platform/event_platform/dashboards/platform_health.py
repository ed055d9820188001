"""Platform health: is monitoring itself working? Scrape targets, firing alerts, and the log
pipeline (Alloy -> Loki). kube-prometheus-stack ships the cluster dashboards (nodes, pods,
workloads); this one covers what the platform adds."""

from __future__ import annotations

from typing import Any

from event_platform.dashboards.grafana import dashboard, panel


def platform_health_dashboard(*, monitoring_namespace: str, annotation_job: str) -> dict[str, Any]:
    """Dashboard JSON model (uid `platform-health`)."""
    ns = f'namespace="{monitoring_namespace}"'
    return dashboard("platform-health", "Platform health", ["event-platform", "monitoring"], refresh="1m",
                     time_from="now-6h", panels=[
            panel(1, "Scrape targets down", [("up == 0", "{{job}} {{namespace}}/{{pod}}")],
                   x=0, y=0, unit="short", kind="table", w=12),
            panel(2, "Targets up, by job", [("sum by (job) (up)", "{{job}}")], x=12, y=0, unit="short"),
            panel(3, "Firing alerts, by severity",
                   [('count by (severity) (ALERTS{alertstate="firing"})', "{{severity}}")], x=0, y=8, unit="short"),
            panel(4, "Pods scraped through their prometheus.io annotations",
                   [(f'count by (namespace) (up{{job="{annotation_job}"}})', "{{namespace}}")],
                   x=12, y=8, unit="short"),
            panel(5, "Log lines received by Loki per second",
                   [(f"sum(rate(loki_distributor_lines_received_total{{{ns}}}[5m]))", "lines/s")],
                   x=0, y=16, unit="short"),
            panel(6, "Log entries sent and dropped by Alloy per second",
                   [(f"sum(rate(loki_write_sent_entries_total{{{ns}}}[5m]))", "sent"),
                    (f"sum(rate(loki_write_dropped_entries_total{{{ns}}}[5m]))", "dropped")],
                   x=12, y=16, unit="short"),
            panel(7, "Prometheus head series", [("sum(prometheus_tsdb_head_series)", "series")],
                   x=0, y=24, unit="short"),
            panel(8, "Prometheus storage used",
                   [("sum(prometheus_tsdb_storage_blocks_bytes) + sum(prometheus_tsdb_wal_storage_size_bytes)",
                     "bytes")], x=12, y=24, unit="bytes"),
    ])
