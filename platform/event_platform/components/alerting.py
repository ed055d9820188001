"""Alertmanager's configuration: where alerts go (the receivers' URLs are files of a mounted Secret,
never values here), grouping, repeats and inhibitions."""

from __future__ import annotations

from typing import Any

from event_platform.config.observability import AlertReceiverConfig

ALERTMANAGER_RECEIVERS_SECRET = "alertmanager-receivers"


ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets"
"""Where the Prometheus Operator mounts `alertmanagerSpec.secrets` (one folder per Secret)."""


def alertmanager_config(receivers: tuple[AlertReceiverConfig, ...]) -> dict[str, Any]:
    """Alertmanager's configuration. Every receiver gets every warning and critical alert; the URLs
    are read from files of the mounted receivers Secret (`api_url_file`: Alertmanager >= 0.22 for
    Slack, `url_file`: >= 0.26 for webhooks; the chart runs 0.34), never written here."""
    routes: list[dict[str, Any]] = [
        # Watchdog always fires (it proves the alerting pipeline works); InfoInhibitor only mutes.
        {"receiver": "null", "matchers": ['alertname =~ "Watchdog|InfoInhibitor"']},
    ]
    configs = []
    for r in receivers:
        url_file = f"{ALERTMANAGER_SECRETS_DIR}/{ALERTMANAGER_RECEIVERS_SECRET}/{r.name}"
        if r.type == "slack":
            configs.append({"name": r.name, "slack_configs": [{"api_url_file": url_file, "send_resolved": True}]})
        else:
            configs.append({"name": r.name, "webhook_configs": [{"url_file": url_file, "send_resolved": True}]})
        routes.append({"receiver": r.name, "matchers": ['severity =~ "warning|critical"'], "continue": True})
    return {
        "global": {"resolve_timeout": "5m"},
        # The chart's defaults: a critical alert mutes the warning of the same name and namespace.
        "inhibit_rules": [
            {"source_matchers": ["severity = critical"], "target_matchers": ["severity =~ warning|info"],
             "equal": ["namespace", "alertname"]},
            {"source_matchers": ["severity = warning"], "target_matchers": ["severity = info"],
             "equal": ["namespace", "alertname"]},
            {"source_matchers": ["alertname = InfoInhibitor"], "target_matchers": ["severity = info"],
             "equal": ["namespace"]},
            {"target_matchers": ["alertname = InfoInhibitor"]},
        ],
        "route": {"receiver": "null", "group_by": ["namespace", "alertname"], "group_wait": "30s",
                  "group_interval": "5m", "repeat_interval": "12h", "routes": routes},
        "receivers": [{"name": "null"}, *configs],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }
