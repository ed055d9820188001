"""Logs: Loki (grafana-community chart, monolithic) stores them, Grafana Alloy (a DaemonSet) ships
every pod's logs to it; Grafana reads them through the Loki datasource."""

from __future__ import annotations

import textwrap
from typing import Any

from event_platform import versions
from event_platform.config.observability import LokiConfig

LOKI_RELEASE = versions.LOKI.name


LOKI_SERVICE = LOKI_RELEASE
"""Monolithic Loki's Service is `loki.fullname` (the release name) when the chart's gateway is off."""


LOKI_PORT = 3100
"""`loki.server.http_listen_port` (chart default)."""


LOKI_STATEFULSET = LOKI_RELEASE


ALLOY_RELEASE = versions.ALLOY.name


ALLOY_DAEMONSET = ALLOY_RELEASE


ALLOY_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}


def loki_datasource(namespace: str) -> dict[str, Any]:
    """Grafana's Loki datasource (uid `loki`, which the dashboards refer to)."""
    return {"name": "Loki", "type": "loki", "uid": "loki", "access": "proxy", "isDefault": False,
            "url": loki_url(namespace), "editable": False, "jsonData": {"maxLines": 1000}}


def loki_url(namespace: str) -> str:
    return f"http://{LOKI_SERVICE}.{namespace}.svc.cluster.local:{LOKI_PORT}"


def loki_values(cfg: LokiConfig, storage_class: str | None) -> dict[str, Any]:
    """Loki 18.11.0 (grafana-community) values: monolithic, one replica, one tenant."""
    object_store = "s3" if cfg.s3 else "filesystem"
    storage: dict[str, Any] = {"type": object_store}
    if cfg.s3 is not None:
        s3: dict[str, Any] = {"region": cfg.s3.region}
        if cfg.s3.endpoint:
            s3["endpoint"] = cfg.s3.endpoint
        storage |= {"bucketNames": {"chunks": cfg.s3.bucket, "ruler": cfg.s3.bucket, "admin": cfg.s3.bucket},
                    "s3": s3}
    persistence: dict[str, Any] = {"enabled": True, "size": cfg.storage_size}
    if storage_class:
        persistence["storageClass"] = storage_class
    values: dict[str, Any] = {
        "deploymentMode": "Monolithic",
        "loki": {
            "auth_enabled": False,  # one tenant (`fake`); Grafana and Alloy send no tenant header
            "commonConfig": {"replication_factor": 1},
            "storage": storage,
            "schemaConfig": {"configs": [{
                "from": "2024-04-01", "store": "tsdb", "object_store": object_store, "schema": "v13",
                "index": {"prefix": "loki_index_", "period": "24h"}}]},
            "limits_config": {"retention_period": cfg.retention},
            # retention is applied by the compactor, which needs somewhere to keep delete requests
            "compactor": {"retention_enabled": True, "delete_request_store": object_store,
                          "working_directory": "/var/loki/compactor"},
            "analytics": {"reporting_enabled": False},
        },
        "singleBinary": {"replicas": 1, "resources": cfg.resources.as_kubernetes(), "persistence": persistence},
        # the simple-scalable targets default to 3 replicas each; monolithic runs none of them
        "read": {"replicas": 0}, "write": {"replicas": 0}, "backend": {"replicas": 0},
        # Grafana and Alloy talk to the single Loki Service; an nginx in front adds nothing here.
        "gateway": {"enabled": False},
        # Memcached caches default to an 8 GB chunks cache: sized for clusters, not for one process.
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "ruler": {"enabled": False},  # alerts come from Prometheus
        "monitoring": {"serviceMonitor": {"enabled": True}},
    }
    if cfg.s3 is not None and cfg.s3.role_arn:
        values["serviceAccount"] = {"annotations": {"eks.amazonaws.com/role-arn": cfg.s3.role_arn}}
    return values


def alloy_config(loki_push_url: str) -> str:
    """Alloy's configuration (River syntax).

    `loki.source.kubernetes` reads container logs through the Kubernetes API (the chart's default
    RBAC grants `pods` and `pods/log` get/list/watch), so Alloy needs no hostPath and no root. Each
    DaemonSet pod discovers only its own node's pods (the chart sets HOSTNAME to the node's name), so
    every container is tailed once.
    """
    return textwrap.dedent(f"""\
        // Pods on this node only: one Alloy per node, each container tailed by exactly one of them.
        discovery.kubernetes "pods" {{
          role = "pod"
          selectors {{
            role  = "pod"
            field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
          }}
        }}

        discovery.relabel "pods" {{
          targets = discovery.kubernetes.pods.targets

          rule {{
            source_labels = ["__meta_kubernetes_namespace"]
            target_label  = "namespace"
          }}
          rule {{
            source_labels = ["__meta_kubernetes_pod_name"]
            target_label  = "pod"
          }}
          rule {{
            source_labels = ["__meta_kubernetes_pod_container_name"]
            target_label  = "container"
          }}
          rule {{
            source_labels = ["__meta_kubernetes_pod_node_name"]
            target_label  = "node"
          }}
        }}

        loki.source.kubernetes "pods" {{
          targets    = discovery.relabel.pods.output
          forward_to = [loki.write.default.receiver]
        }}

        loki.write "default" {{
          endpoint {{
            url = "{loki_push_url}"
          }}
        }}
        """)


def alloy_values(loki_push_url: str) -> dict[str, Any]:
    """Alloy 1.11.1 values: a DaemonSet running `alloy_config`."""
    return {
        "controller": {"type": "daemonset",
                       # logs of pods on tainted nodes (system pools) matter as much as any
                       "tolerations": [{"operator": "Exists"}]},
        "alloy": {"configMap": {"create": True, "content": alloy_config(loki_push_url)},
                  "enableReporting": False, "resources": ALLOY_RESOURCES},
        "crds": {"create": False},  # PodLogs CRDs: this configuration does not use them
        "serviceMonitor": {"enabled": True},
    }
