"""Logs: every pod's output as Alloy ships it to Loki, narrowed by namespace, pod, container and a
search string. The story's "find the problem before someone reports it" starts here."""

from __future__ import annotations

from typing import Any

from event_platform.dashboards.grafana import LOKI, dashboard, panel

SELECTOR = '{namespace=~"$namespace", pod=~"$pod", container=~"$container"}'
ERRORS = '(?i)(error|exception|traceback|panic|fatal)'


def _query_variable(name: str, query: str, *, include_all: bool) -> dict[str, Any]:
    return {"name": name, "label": name, "type": "query", "datasource": LOKI, "query": query,
            "refresh": 2, "includeAll": include_all, "multi": include_all, "allValue": ".+", "current": {},
            "sort": 1}


def logs_dashboard() -> dict[str, Any]:
    """Dashboard JSON model (uid `platform-logs`)."""
    variables = [
        _query_variable("namespace", "label_values(namespace)", include_all=True),
        _query_variable("pod", 'label_values({namespace=~"$namespace"}, pod)', include_all=True),
        _query_variable("container", 'label_values({namespace=~"$namespace", pod=~"$pod"}, container)',
                        include_all=True),
        {"name": "search", "label": "contains", "type": "textbox", "query": "", "current": {"value": ""}},
    ]
    return dashboard("platform-logs", "Logs", ["event-platform", "logs"], refresh="30s", time_from="now-1h",
                     variables=variables, panels=[
        panel(1, "Log lines per second, by container",
              [(f'sum by (namespace, container) (rate({SELECTOR} |= "$search" [$__auto]))',
                "{{namespace}}/{{container}}")], x=0, y=0, datasource=LOKI),
        panel(2, "Error-looking lines per second, by pod",
              [(f'sum by (namespace, pod) (rate({SELECTOR} |~ "{ERRORS}" [$__auto]))', "{{namespace}}/{{pod}}")],
              x=12, y=0, datasource=LOKI),
        panel(3, "Lines", [(f'{SELECTOR} |= "$search"', "")], x=0, y=8, w=24, h=18, kind="logs", datasource=LOKI,
              options={"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending",
                       "enableLogDetails": True, "dedupStrategy": "none"}),
    ])
