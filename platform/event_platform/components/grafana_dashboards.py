"""Dashboards as ConfigMaps: Grafana's dashboard sidecar loads every ConfigMap labelled
`grafana_dashboard: "1"`, from any namespace, into the folder its annotation names."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform import labels

DASHBOARD_LABELS = {labels.GRAFANA_DASHBOARD: labels.GRAFANA_DASHBOARD_VALUE}


DASHBOARD_FOLDER_ANNOTATION = "grafana_folder"
"""Annotation naming the Grafana folder a dashboard ConfigMap goes into (sidecar `folderAnnotation`)."""


PLATFORM_FOLDER = "Platform"


def dashboard_data(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """ConfigMap data holding one dashboard (indented: reviewable in the rendered YAML)."""
    return {f"{dashboard['uid']}.json": json.dumps(dashboard, indent=2, sort_keys=True)}


def dashboard_config_map(resource_name: str, *, name: str, namespace: pulumi.Input[str],
                         data: pulumi.Input[Mapping[str, str]], folder: pulumi.Input[str],
                         opts: pulumi.ResourceOptions) -> k8s.core.v1.ConfigMap:
    """A ConfigMap Grafana's dashboard sidecar loads (from any namespace) into `folder`."""
    return k8s.core.v1.ConfigMap(
        resource_name,
        metadata={"name": name, "namespace": namespace,
                  "labels": {**labels.common(name, "dashboard"), **DASHBOARD_LABELS},
                  "annotations": {DASHBOARD_FOLDER_ANNOTATION: folder}},
        data=data, opts=opts)
