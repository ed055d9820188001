"""The collector's Grafana dashboard: ingest by source, latency and errors split by version (the
stable version and a canary side by side on one panel), a marker at every version change, the SLOs'
budget, memory, and the running versions.

`version` and `track` come from the pods' labels through the ServiceMonitor's relabelings
(components/web_service.py SERIES_LABELS_FROM_PODS); the `slo:*` series from alerts/slo.py.
"""

from __future__ import annotations

from typing import Any

from event_platform.dashboards.grafana import LOKI, PROMETHEUS, dashboard, panel

NS = 'namespace="$namespace"'
TRAFFIC = f'{NS},route!~"/metrics|/healthz|/readyz"'
"""User traffic only: probes and scrapes would dilute latency and error signals."""
PODS = f'{NS},service=~"collector.*"'
"""The collector's scrape targets (stable Service `collector`, canary `collector-canary`)."""
BY_VERSION = "version, track"
LOGS = '{namespace="$namespace", container="collector"} | json'
"""The collector's own log lines (Alloy's `namespace`/`container` stream labels), JSON fields parsed
(apps/collector/src/collector/logs.py writes one JSON object per line)."""
ACCESS_LOG = f'{LOGS} | logger="collector.access"'
"""One line per request (collector.middleware): method, path, status, duration_ms."""
LOG_PANEL = {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending", "enableLogDetails": True,
             "dedupStrategy": "none"}


def error_ratio(by: str) -> str:
    """5xx share of user requests per `by`; 0, not "no data", while nothing fails."""
    total = f"sum by ({by}) (rate(collector_requests_total{{{TRAFFIC}}}[5m]))"
    failed = f'sum by ({by}) (rate(collector_requests_total{{{TRAFFIC},status=~"5.."}}[5m]))'
    return f"({failed} or 0 * {total})\n  / {total}"


def collector_dashboard() -> dict[str, Any]:
    """Dashboard JSON model (uid `event-collector`); `$namespace` picks the environment."""
    environment = {"name": "namespace", "label": "environment", "type": "query", "datasource": PROMETHEUS,
                   "query": "label_values(collector_events_total, namespace)", "refresh": 2}
    # A version's targets exist now and did not 2 minutes ago: a rollout (or a canary) started.
    deploys = {"name": "Deploys", "enable": True, "iconColor": "blue", "datasource": PROMETHEUS,
               "expr": f"count by ({BY_VERSION}) (up{{{PODS}}})\n"
                       f"  unless count by ({BY_VERSION}) (up{{{PODS}}} offset 2m)",
               "step": "30s", "titleFormat": "{{version}} ({{track}}) deployed", "textFormat": ""}
    quantiles = [((f"histogram_quantile({q}, sum by (le) "
                  f"(rate(collector_request_duration_seconds_bucket{{{TRAFFIC}}}[5m])))"),
                  f"p{round(q * 100)}") for q in (0.5, 0.9, 0.99)]
    p99_by_version = (f"histogram_quantile(0.99, sum by (le, {BY_VERSION}) "
                      f"(rate(collector_request_duration_seconds_bucket{{{TRAFFIC}}}[5m])))")
    slo = f'{NS},service="collector"'
    return dashboard("event-collector", "Event collector", ["event-platform", "collector"], refresh="30s",
                     time_from="now-6h", variables=[environment], annotations=[deploys], panels=[
        panel(1, "Events ingested per second, by source",
              [(f"sum by (source) (rate(collector_events_total{{{NS}}}[5m]))", "{{source}}")], x=0, y=0, unit="ops"),
        panel(2, "Request latency quantiles", quantiles, x=12, y=0, unit="s"),
        panel(3, "p99 latency by version (stable vs canary)", [(p99_by_version, "{{version}} ({{track}})")],
              x=0, y=8, unit="s"),
        panel(4, "5xx share by version (stable vs canary)", [(error_ratio(BY_VERSION), "{{version}} ({{track}})")],
              x=12, y=8, unit="percentunit"),
        panel(5, "Error rate (5xx share) and client errors by kind",
              [(error_ratio("namespace"), "5xx share"),
               (f"sum by (kind) (rate(collector_errors_total{{{NS}}}[5m]))", "{{kind}}")],
              x=0, y=16, unit="percentunit"),
        panel(6, "Error budget remaining over the SLO window",
              [(f"slo:period_error_budget_remaining:ratio{{{slo}}}", "{{slo}}")], x=12, y=16, unit="percentunit"),
        panel(7, "Burn rate (1 = spending exactly the budget)",
              [(f"slo:current_burn_rate:ratio{{{slo}}}", "{{slo}} 5m"),
               (f'slo:sli_error:ratio_rate1h{{{slo}}} / on (slo) slo:error_budget:ratio{{{slo}}}', "{{slo}} 1h")],
              x=0, y=24, unit="short"),
        panel(8, "Resident memory per pod",
              [(f"process_resident_memory_bytes{{{PODS}}}", "{{pod}} {{version}}")], x=12, y=24, unit="bytes"),
        panel(9, "Pods up, by version", [(f"count by ({BY_VERSION}) (up{{{PODS}}} == 1)", "{{version}} ({{track}})")],
              x=0, y=32, unit="short"),
        panel(10, "Running image",
              [(f'count by (image) (kube_pod_container_info{{{NS},container="collector"}})', "{{image}}")],
              x=12, y=32, kind="table"),
        panel(11, "Requests over 250 ms per second, by path (access log)",
              [(f"sum by (path) (count_over_time({ACCESS_LOG} | duration_ms > 250 [$__auto]))", "{{path}}")],
              x=0, y=40, datasource=LOKI),
        panel(12, "Failed requests (5xx), from the access log", [(f"{ACCESS_LOG} | status >= 500", "")],
              x=12, y=40, kind="logs", datasource=LOKI, options=LOG_PANEL),
        panel(13, "Collector warnings and errors", [(f'{LOGS} | level=~"warning|error|critical"', "")],
              x=0, y=48, w=24, kind="logs", datasource=LOKI, options=LOG_PANEL),
    ])
