"""The collector's alert rules: the signals the story's last chapter asks for, per environment.

Metric names are the collector's own (apps/collector/src/collector/metrics.py); `up` and the
`namespace`/`service` labels come from the ServiceMonitor scrape; restarts from kube-state-metrics.
tests/test_collector_rules.py runs `promtool test rules` on these with synthetic series.
"""

from __future__ import annotations

from typing import Any

PROBES = "/metrics|/healthz|/readyz"
"""Routes that are not user traffic; they would dilute the latency and error signals."""


def collector_rule_groups(namespace: str, service: str = "collector") -> tuple[dict[str, Any], ...]:
    """Rule groups for the collector in `namespace` (one group per environment)."""
    sel = f'namespace="{namespace}"'
    traffic = f'{sel},route!~"{PROBES}"'

    def alert(name: str, expr: str, duration: str, severity: str, summary: str, description: str) -> dict:
        return {"alert": name, "expr": expr, "for": duration,
                "labels": {"severity": severity, "app": service, "namespace": namespace},
                "annotations": {"summary": summary, "description": description}}

    return ({
        "name": f"collector.{namespace}",
        "rules": [
            alert("CollectorHighErrorRatio",
                  f'sum(rate(collector_requests_total{{{traffic},status=~"5.."}}[5m]))\n'
                  f'  / sum(rate(collector_requests_total{{{traffic}}}[5m])) > 0.05',
                  "5m", "critical", "More than 5% of collector requests fail",
                  "{{ $value | humanizePercentage }} of requests in " + namespace + " answer 5xx."),
            alert("CollectorHighLatencyP99",
                  f"histogram_quantile(0.99,\n"
                  f"  sum by (le) (rate(collector_request_duration_seconds_bucket{{{traffic}}}[5m]))) > 0.25",
                  "10m", "warning", "Collector p99 latency above 250 ms",
                  "p99 is {{ $value | humanizeDuration }} in " + namespace + "."),
            alert("CollectorRestarting",
                  f'increase(kube_pod_container_status_restarts_total{{{sel},container="{service}"}}[15m]) > 2',
                  "0m", "warning", "A collector container keeps restarting",
                  "{{ $labels.pod }} restarted {{ $value }} times in 15 minutes (liveness failures or OOM)."),
            alert("CollectorNoTargetsUp",
                  f'absent(up{{{sel},service="{service}"}} == 1)',
                  "5m", "critical", "No collector instance is up",
                  "Prometheus scrapes no healthy collector in " + namespace + ": the service is down."),
            alert("CollectorIngestStopped",
                  f"sum(rate(collector_events_total{{{sel}}}[15m])) == 0\n"
                  f"  and on() sum(rate(collector_events_total{{{sel}}}[1h] offset 1h)) > 0",
                  "10m", "warning", "Events stopped arriving",
                  "The collector in " + namespace + " stored events an hour ago and none in the last 15 minutes."),
        ],
    },)
