"""The shape every dashboard of the platform shares: the skeleton and the panel."""

from __future__ import annotations

from typing import Any

PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
"""The Prometheus datasource kube-prometheus-stack provisions (`grafana.sidecar.datasources.uid`)."""
LOKI = {"type": "loki", "uid": "loki"}
"""The Loki datasource the observability component provisions (uid `loki`)."""


def panel(panel_id: int, title: str, targets: list[tuple[str, str]], *, x: int, y: int, unit: str = "short",
          kind: str = "timeseries", w: int = 12, h: int = 8, datasource: dict = PROMETHEUS,
          **extra: Any) -> dict[str, Any]:
    """A panel at grid position (x, y) with one query per (expression, legend) target."""
    return {"id": panel_id, "type": kind, "title": title, "datasource": datasource,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(65 + i), "datasource": datasource, "expr": expr, "legendFormat": legend}
                        for i, (expr, legend) in enumerate(targets)],
            **extra}


def dashboard(uid: str, title: str, tags: list[str], panels: list[dict[str, Any]], *, refresh: str,
              time_from: str, variables: list[dict[str, Any]] | None = None,
              annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A dashboard JSON model in UTC."""
    model: dict[str, Any] = {"uid": uid, "title": title, "tags": tags, "timezone": "utc", "schemaVersion": 39,
                             "refresh": refresh, "time": {"from": time_from, "to": "now"}, "panels": panels}
    if variables:
        model["templating"] = {"list": variables}
    if annotations:
        model["annotations"] = {"list": annotations}
    return model
