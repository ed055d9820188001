"""Logs: every pod's output as Alloy ships it to Loki, narrowed by namespace, pod, container and a
search string. The story's "find the problem before someone reports it" starts here."""

from __future__ import annotations

from typing import Any

LOKI = {"type": "loki", "uid": "loki"}
"""The Loki datasource the observability component provisions (uid `loki`)."""
SELECTOR = '{namespace=~"$namespace", pod=~"$pod", container=~"$container"}'
ERRORS = '(?i)(error|exception|traceback|panic|fatal)'


def _query_variable(name: str, query: str, *, include_all: bool) -> dict[str, Any]:
    return {"name": name, "label": name, "type": "query", "datasource": LOKI, "query": query,
            "refresh": 2, "includeAll": include_all, "multi": include_all, "allValue": ".+", "current": {},
            "sort": 1}


def logs_dashboard() -> dict[str, Any]:
    """Dashboard JSON model (uid `platform-logs`)."""
    return {
        "uid": "platform-logs",
        "title": "Logs",
        "tags": ["event-platform", "logs"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [
            _query_variable("namespace", "label_values(namespace)", include_all=True),
            _query_variable("pod", 'label_values({namespace=~"$namespace"}, pod)', include_all=True),
            _query_variable("container", 'label_values({namespace=~"$namespace", pod=~"$pod"}, container)',
                            include_all=True),
            {"name": "search", "label": "contains", "type": "textbox", "query": "", "current": {"value": ""}},
        ]},
        "panels": [
            {"id": 1, "type": "timeseries", "title": "Log lines per second, by container",
             "datasource": LOKI, "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
             "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
             "targets": [{"refId": "A", "datasource": LOKI, "legendFormat": "{{namespace}}/{{container}}",
                          "expr": f'sum by (namespace, container) (rate({SELECTOR} |= "$search" [$__auto]))'}]},
            {"id": 2, "type": "timeseries", "title": "Error-looking lines per second, by pod",
             "datasource": LOKI, "gridPos": {"x": 12, "y": 0, "w": 12, "h": 8},
             "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
             "targets": [{"refId": "A", "datasource": LOKI, "legendFormat": "{{namespace}}/{{pod}}",
                          "expr": f'sum by (namespace, pod) (rate({SELECTOR} |~ "{ERRORS}" [$__auto]))'}]},
            {"id": 3, "type": "logs", "title": "Lines", "datasource": LOKI,
             "gridPos": {"x": 0, "y": 8, "w": 24, "h": 18},
             "options": {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending",
                         "enableLogDetails": True, "dedupStrategy": "none"},
             "targets": [{"refId": "A", "datasource": LOKI, "expr": f'{SELECTOR} |= "$search"'}]},
        ],
    }
