"""The platform's own alerts: the parts of observability that would otherwise fail silently.

kube-prometheus-stack's default rules already cover the cluster (nodes, kubelet, workloads,
Prometheus and Alertmanager themselves, `TargetDown`). What they cannot know about is ours: the
annotation scrape job, whose targets in default-deny app namespaces are unreachable until their owner
allows Prometheus in, and the log pipeline (Alloy -> Loki), whose failure nobody notices until the
logs are needed.
"""

from __future__ import annotations

from typing import Any


def _alert(name: str, expr: str, duration: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {"alert": name, "expr": expr, "for": duration, "labels": {"severity": severity},
            "annotations": {"summary": summary, "description": description}}


def platform_rule_groups(*, monitoring_namespace: str, annotation_job: str, loki_statefulset: str,
                         alloy_daemonset: str) -> tuple[dict[str, Any], ...]:
    """Rule groups for the scraping and logging pieces running in `monitoring_namespace`."""
    ns = f'namespace="{monitoring_namespace}"'
    return (
        {"name": "platform.scraping", "rules": [
            _alert("AnnotatedPodUnreachable",
                   f'up{{job="{annotation_job}"}} == 0',
                   "10m", "warning", "A pod asks to be scraped but Prometheus cannot reach it",
                   "{{ $labels.namespace }}/{{ $labels.pod }} carries prometheus.io/scrape but its metrics "
                   "endpoint does not answer. App namespaces deny ingress by default: the app must allow "
                   "Prometheus in on the metrics port (AppMonitoring does this for monitored apps)."),
        ]},
        {"name": "platform.logs", "rules": [
            _alert("LokiDown",
                   f'kube_statefulset_status_replicas_ready{{{ns},statefulset="{loki_statefulset}"}} < 1',
                   "5m", "critical", "Loki is not running",
                   "No ready Loki replica for 5 minutes: logs are not stored and cannot be queried."),
            _alert("LokiIngestStopped",
                   f"(sum(rate(loki_distributor_lines_received_total{{{ns}}}[10m])) or vector(0)) == 0",
                   "15m", "critical", "No log line has reached Loki for 15 minutes",
                   "Every pod logs something; none of it arrives. Check the Alloy pods and the Loki push path."),
            _alert("LokiRequestErrors",
                   f'sum(rate(loki_request_duration_seconds_count{{{ns},status_code=~"5.."}}[5m]))\n'
                   f"  / sum(rate(loki_request_duration_seconds_count{{{ns}}}[5m])) > 0.05",
                   "10m", "warning", "More than 5% of Loki requests fail",
                   "{{ $value | humanizePercentage }} of Loki's requests (pushes and queries) answer 5xx."),
            _alert("AlloyUnavailable",
                   f'kube_daemonset_status_number_unavailable{{{ns},daemonset="{alloy_daemonset}"}} > 0',
                   "15m", "warning", "A node ships no logs",
                   "{{ $value }} Alloy pod(s) unavailable for 15 minutes: the logs of those nodes' pods are "
                   "not collected (and are lost once the kubelet rotates them)."),
            _alert("AlloyDroppingLogs",
                   f"sum by (pod) (rate(loki_write_dropped_entries_total{{{ns}}}[10m])) > 0",
                   "10m", "warning", "Alloy drops log entries",
                   "{{ $labels.pod }} drops entries Loki refused or could not take (rate limits, "
                   "too old, Loki down past the retry budget)."),
        ]},
    )
