"""One app environment's namespace with its guardrails: the story's "many teams, one cluster"."""

from __future__ import annotations

from typing import Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels
from event_platform.config.tenancy import AppNamespaceConfig

KUBE_DNS = {"k8s-app": "kube-dns"}
"""Label of the cluster DNS pods (CoreDNS keeps kube-dns's label on kind and on managed clusters)."""

_READ = ["get", "list", "watch"]
_WRITE = ["get", "list", "watch", "create", "update", "patch", "delete"]

# Read-only, and no Secrets: the story's "the intern can't delete production". Endpoints are readable
# (they only list pod IPs); no role anywhere may write them or EndpointSlices: a selector-less Service
# plus hand-written endpoints would publish another namespace's pods through the Gateway (the pattern
# behind CVE-2021-25740, why Kubernetes took endpoints write out of its built-in roles).
VIEWER_RULES = [
    {"apiGroups": [""], "resources": ["pods", "pods/log", "services", "configmaps", "endpoints",
                                      "persistentvolumeclaims", "events", "resourcequotas", "limitranges"],
     "verbs": _READ},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": _READ},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "replicasets"], "verbs": _READ},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": _READ},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _READ},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": _READ},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"], "verbs": _READ},
]

# `operate` (production): read and logs like a viewer, plus restarting pods through the eviction API,
# which honours the PodDisruptionBudget, while the controller recreates each pod from its unchanged
# template. `kubectl rollout restart` is deliberately absent: it patches the pod template, and whoever
# may patch a template may change its image and read every Secret of the namespace.
OPERATE_RULES = [
    *VIEWER_RULES,
    {"apiGroups": ["monitoring.coreos.com"], "resources": ["servicemonitors", "podmonitors", "prometheusrules"],
     "verbs": _READ},
    {"apiGroups": ["external-secrets.io"], "resources": ["externalsecrets"], "verbs": _READ},
    {"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters", "backups", "scheduledbackups"], "verbs": _READ},
    {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
]

# `edit` (dev, staging): deploy and change workloads directly. Secrets are not granted, but creating a
# pod (or a Deployment, Job... that creates one) can mount any Secret of the namespace, so in these
# environments developers can read them; docs/tenancy.md says so.
EDIT_RULES = [
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps", "persistentvolumeclaims",
                                      "serviceaccounts"], "verbs": _WRITE},
    # the namespace's quota and limits are the platform's: read, never write (kubectl describe quota)
    {"apiGroups": [""], "resources": ["pods/log", "endpoints", "events", "resourcequotas", "limitranges"],
     "verbs": _READ},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": _READ},
    {"apiGroups": [""], "resources": ["pods/portforward", "pods/exec", "pods/eviction"], "verbs": ["create"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "replicasets", "deployments/scale",
                                          "statefulsets/scale"], "verbs": _WRITE},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": _WRITE},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _WRITE},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": _WRITE},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"], "verbs": _WRITE},
    {"apiGroups": ["monitoring.coreos.com"], "resources": ["servicemonitors", "podmonitors", "prometheusrules"],
     "verbs": _WRITE},
    {"apiGroups": ["external-secrets.io"], "resources": ["externalsecrets"], "verbs": _READ},
    {"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters", "backups", "scheduledbackups"], "verbs": _READ},
]

DEVELOPER_RULES = {"edit": EDIT_RULES, "operate": OPERATE_RULES}
"""The developer role's rules by `AppNamespaceConfig.developer_access`."""

PodSecurityLevel = Literal["restricted", "baseline", "privileged"]


def pod_security_labels(level: PodSecurityLevel) -> dict[str, str]:
    """Enforce `level`; audit and warn at `restricted` so anything looser stays visible."""
    return {f"{labels.POD_SECURITY}/enforce": level, f"{labels.POD_SECURITY}/enforce-version": "latest",
            f"{labels.POD_SECURITY}/audit": "restricted", f"{labels.POD_SECURITY}/warn": "restricted"}


def data_protection(protect: bool) -> pulumi.ResourceOptions:
    """Options for a resource whose deletion deletes data: Pulumi refuses to delete or replace it
    (`protect`), and if it is deleted from the state anyway it stays in the cluster (`retainOnDelete`)."""
    return pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)


class AppNamespaceArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: AppNamespaceConfig
    """Name, quota, limits and RBAC groups of the namespace, and the environment's developer access."""
    environment: str | None = None
    """The environment the namespace belongs to (label `event-platform.io/environment`). Omitted: the
    namespace's own name (an environment's own namespace, the platform team's)."""
    team: str = labels.PLATFORM_TEAM
    """The team owning the namespace (label `event-platform.io/team`). Omitted: the platform team."""


class AppNamespace(pulumi.ComponentResource):
    """An app namespace: PSA `restricted`, ResourceQuota, LimitRange, default-deny NetworkPolicy
    (ingress and egress) with DNS egress allowed, and `developer` (edit or operate, by config) /
    `viewer` roles bound to groups (access matrix: docs/tenancy.md).

    Flows beyond DNS are declared by the components that own them (see `network.py`).
    """

    namespace: k8s.core.v1.Namespace
    """The Namespace; pass this object to the components that deploy into it."""
    name: str
    """The namespace's name (known before deployment)."""
    environment: str
    """The environment it belongs to."""
    team: str
    """The team that owns it."""

    def __init__(self, name: str, args: AppNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:tenancy:AppNamespace", name, None, opts)
        cfg = args.config
        self.name = cfg.name
        child = pulumi.ResourceOptions(parent=self)
        self.environment, self.team = args.environment or cfg.name, args.team
        ns_labels = {**labels.common(cfg.name, "app-namespace"), **pod_security_labels("restricted"),
                     labels.ENVIRONMENT: self.environment, labels.TEAM: self.team}
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": cfg.name, "labels": ns_labels},
            # deleting a namespace deletes every volume claim in it
            opts=pulumi.ResourceOptions.merge(child, data_protection(cfg.protect_data)))
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        ns_name = self.namespace.metadata.name

        q = cfg.quota
        self.quota = k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata={"name": "environment-quota", "namespace": ns_name,
                      "labels": labels.common("environment-quota", "guardrail")},
            spec={"hard": {"requests.cpu": q.requests_cpu, "requests.memory": q.requests_memory,
                           "limits.memory": q.limits_memory, "pods": str(q.pods),
                           "persistentvolumeclaims": str(q.persistent_volume_claims),
                           "requests.storage": q.requests_storage}},
            opts=in_ns)
        lim = cfg.limits
        self.limit_range = k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata={"name": "container-defaults", "namespace": ns_name,
                      "labels": labels.common("container-defaults", "guardrail")},
            spec={"limits": [{
                "type": "Container",
                "defaultRequest": {"cpu": lim.default_request_cpu, "memory": lim.default_request_memory},
                # memory only: see LimitRangeConfig (no CPU limits in this resource model)
                "default": {"memory": lim.default_limit_memory},
                "max": {"memory": lim.max_memory},
            }]},
            opts=in_ns)

        self.default_deny = k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata={"name": "default-deny", "namespace": ns_name,
                      "labels": labels.common("default-deny", "network")},
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            opts=in_ns)
        self.allow_dns = k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-dns",
            metadata={"name": "allow-dns-egress", "namespace": ns_name,
                      "labels": labels.common("allow-dns-egress", "network")},
            spec={"podSelector": {}, "policyTypes": ["Egress"],
                  "egress": [{"to": [{"namespaceSelector": {"matchLabels": {labels.NAMESPACE_NAME: "kube-system"}},
                                      "podSelector": {"matchLabels": KUBE_DNS}}],
                              "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]},
            opts=in_ns)

        self.roles = {}
        for role, rules, groups in (("developer", DEVELOPER_RULES[cfg.developer_access], cfg.developer_groups),
                                    ("viewer", VIEWER_RULES, cfg.viewer_groups)):
            self.roles[role] = k8s.rbac.v1.Role(
                f"{name}-{role}-role",
                metadata={"name": role, "namespace": ns_name, "labels": labels.common(role, "rbac")},
                rules=rules, opts=in_ns)
            if groups:
                k8s.rbac.v1.RoleBinding(
                    f"{name}-{role}-binding",
                    metadata={"name": f"{role}s", "namespace": ns_name, "labels": labels.common(role, "rbac")},
                    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                    subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}
                              for g in groups],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[self.roles[role]]))

        self.register_outputs({"namespace": ns_name, "quota": self.quota.metadata.name})
