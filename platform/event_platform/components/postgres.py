"""The Postgres operator: CloudNativePG, installed once per cluster into the platform's `cnpg-system`
namespace. Each app environment then declares its own `Cluster` (see `postgres_cluster.py`)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels, versions
from event_platform.components.helm import helm_release

OPERATOR_POD_LABELS = {labels.NAME: versions.CLOUDNATIVE_PG.name}
"""Labels of the operator's pods (the chart's `cloudnative-pg.selectorLabels`: the chart's name),
which Cluster pods' NetworkPolicies admit on the status and Postgres ports."""


class PostgresOperatorArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    namespace: k8s.core.v1.Namespace
    """The platform namespace the operator runs in (`cnpg-system`), declared by tenancy."""


class PostgresOperator(pulumi.ComponentResource):
    """CloudNativePG (Helm, pinned): the `postgresql.cnpg.io` CRDs, the operator and its webhooks."""

    release: k8s.helm.v3.Release
    """The Helm release. `pulumi up` waits for its workloads (skipAwait is off), so it finishes only
    once the operator Deployment (and with it the admission webhook) is ready: depend on this before
    declaring any `postgresql.cnpg.io` resource."""
    namespace: pulumi.Output[str]
    """Name of the namespace the operator runs in."""
    pod_labels: dict[str, str]
    """Labels selecting the operator's pods (for NetworkPolicies in app namespaces)."""

    def __init__(self, name: str, args: PostgresOperatorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:data:PostgresOperator", name, None, opts)
        self.namespace = args.namespace.metadata.name
        self.pod_labels = dict(OPERATOR_POD_LABELS)
        self.release = helm_release(
            f"{name}-release", versions.CLOUDNATIVE_PG, namespace=self.namespace, values=operator_values(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.namespace]))
        self.register_outputs({"release": self.release.status, "namespace": self.namespace})


def operator_values() -> dict[str, Any]:
    """Helm values of the operator. The chart's pods already run restricted-compliant (non-root,
    read-only root filesystem, no capabilities, RuntimeDefault seccomp)."""
    return {
        "crds": {"create": True},
        # Watch every namespace: each app environment has its own Cluster.
        "config": {"clusterWide": True},
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "monitoring": {
            # The operator's own PodMonitor needs the Prometheus Operator's CRDs at install time,
            # which would tie this release to the observability stack; the Clusters' PodMonitors
            # are ours (postgres_cluster.py), declared after both.
            "podMonitorEnabled": False,
            "grafanaDashboard": {"create": False},
        },
    }
