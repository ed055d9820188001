"""The collector's alert rules, per environment: SLO burn-rate alerts generated from the
environment's SLO config (alerts/slo.py), and the symptom alerts an SLO cannot express (no target
up, ingest stopped, restarts).

Metric names are the collector's own (apps/collector/src/collector/metrics.py); `up` and the
`namespace`/`service` labels come from the ServiceMonitor scrape; restarts from kube-state-metrics.
tests/test_collector_rules.py and tests/test_slo.py run `promtool test rules` on these with synthetic
series; tests/test_prometheus_live.py loads them into a real Prometheus scraping the real collector.
"""

from __future__ import annotations

from typing import Any

from event_platform.alerts.slo import burn_rate_alerts, collector_slos, recording_rules
from event_platform.config.slo import CollectorSloConfig

PROBES = "/metrics|/healthz|/readyz"
"""Routes that are not user traffic; they would dilute the latency and error signals."""


def collector_rule_groups(namespace: str, service: str = "collector",
                          slo: CollectorSloConfig | None = None) -> tuple[dict[str, Any], ...]:
    """Rule groups for the collector in `namespace`: its SLO recording rules, then its alerts.
    `slo` omitted: CollectorSloConfig's defaults."""
    sel = f'namespace="{namespace}"'
    traffic = f'{sel},route!~"{PROBES}"'
    slos = collector_slos(namespace, service, traffic, slo or CollectorSloConfig())

    def alert(name: str, expr: str, duration: str, severity: str, summary: str, description: str) -> dict:
        return {"alert": name, "expr": expr, "for": duration,
                "labels": {"severity": severity, "app": service, "namespace": namespace},
                "annotations": {"summary": summary, "description": description}}

    return (
        {"name": f"collector.{namespace}.slo", "rules": [r for s in slos for r in recording_rules(s)]},
        {"name": f"collector.{namespace}", "rules": [
            *(a for s in slos for a in burn_rate_alerts(s)),
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
        ]},
    )
