"""NetworkPolicies of the platform's own namespaces: default deny in every one of them, and exactly the
flows their components need (docs/tenancy.md, "Flow matrix").

Trust boundary: the namespace. Pods of one platform namespace (all installed by the platform's own
charts) talk to each other freely; every flow that crosses a namespace boundary, or leaves the pod
network, is a rule here. Rules select by port or by namespace rather than by a chart's pod labels
wherever a port identifies the listener; where a label is needed, its source is cited.

* API server -> webhooks: the API server is not a pod (on kind and EKS no pod selector matches it),
  so a webhook port is open to any source, and only that port.
* Any pod -> the API server, and anything outside the cluster over HTTPS: egress on 443/6443 to any
  address (the API server's address is not known to the program; 6443 is its port after the Service's
  DNAT on kind and kubeadm clusters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels
from event_platform.components.app_namespace import KUBE_DNS
from event_platform.components.network import Peer

API_SERVER_PORTS = (443, 6443)
HTTP_PORT = 80
WEBHOOK_PORTS = {"cert_manager": 10250, "secrets": 10250, "databases": 9443, "monitoring": 10250}
"""Webhook ports by platform namespace role: cert-manager's webhook `--secure-port` default 10250
(deploy/charts/cert-manager/templates/webhook-deployment.yaml); ESO `webhook.port: 10250` (values.yaml);
CloudNativePG `webhook.port: 9443` (values.yaml); the Prometheus Operator's admission webhook on
`prometheusOperator.tls.internalPort: 10250` (kube-prometheus-stack values.yaml). In each namespace no
other pod listens on that port."""
NODE_PORTS = (9100, 10250)
"""node-exporter (host network) and the kubelet's metrics/cAdvisor endpoint: Prometheus scrapes nodes."""
GRAFANA_POD_LABELS = {labels.NAME: "grafana"}
"""Grafana's pods: `app.kubernetes.io/name: {{ include "grafana.name" . }}` (grafana chart 12.11.1,
templates/_helpers.tpl, grafana.selectorLabels; the subchart's name is `grafana`)."""
GRAFANA_PORT = 3000
CNPG_INSTANCE_LABEL = "cnpg.io/cluster"
"""Label CloudNativePG puts on every instance pod of a Cluster (what the app namespaces' policies select)."""
CNPG_PORTS = (5432, 8000)
GATEWAY_PORTS = (80, 443)


class PlatformNetworkArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    namespaces: Mapping[str, k8s.core.v1.Namespace]
    """Every platform namespace by name: each gets default deny and in-namespace traffic. Required."""
    roles: Mapping[str, str]
    """Role -> namespace name for the namespaces that need more than that: `gateway`, `monitoring`,
    `databases`, `secrets`, and `cert_manager` when TLS is on. A role that is absent gets no flows."""
    data_plane: Peer
    """The Gateway's nginx pods (`Gateway.data_plane_peer`): the public entry point."""
    prometheus: Peer
    """Prometheus's pods: they scrape every namespace."""


class PlatformNetwork(pulumi.ComponentResource):
    """Default deny plus the needed flows in every platform namespace."""

    policies: dict[str, list[k8s.networking.v1.NetworkPolicy]]
    """The NetworkPolicies by namespace name."""

    def __init__(self, name: str, args: PlatformNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:tenancy:PlatformNetwork", name, None, opts)
        self._name = name
        roles = dict(args.roles)
        self.policies = {}
        for ns_name, namespace in args.namespaces.items():
            role = next((r for r, n in roles.items() if n == ns_name), None)
            specs = self._baseline(args, ns_name, role) + self._flows(args, ns_name, role, roles)
            opts_ = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
            self.policies[ns_name] = [
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-{ns_name}-{policy_name}",
                    metadata={"name": policy_name, "namespace": namespace.metadata.name,
                              "labels": labels.common(policy_name, "network")},
                    spec=spec, opts=opts_)
                for policy_name, spec in specs]
        self.register_outputs({"namespaces": list(self.policies),
                               "policies": {ns: len(p) for ns, p in self.policies.items()}})

    @staticmethod
    def _baseline(args: PlatformNetworkArgs, ns: str, role: str | None) -> list[tuple[str, dict[str, Any]]]:
        same_namespace: list[dict[str, Any]] = [{"podSelector": {}}]
        specs: list[tuple[str, dict[str, Any]]] = [
            ("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            ("allow-dns-egress", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {labels.NAMESPACE_NAME: "kube-system"}},
                        "podSelector": {"matchLabels": KUBE_DNS}}],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}),
            ("allow-same-namespace", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                                      "ingress": [{"from": same_namespace}], "egress": [{"to": same_namespace}]}),
        ]
        if role is None:
            return specs  # no pods of ours there (e.g. the dev store's source secrets)
        specs.append(("allow-api-server-and-https-egress", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"ports": _tcp(API_SERVER_PORTS)}]}))
        if role != "monitoring":
            specs.append(("allow-prometheus-scrape", {
                "podSelector": {}, "policyTypes": ["Ingress"],
                "ingress": [{"from": [args.prometheus.as_kubernetes()]}]}))
        if role in WEBHOOK_PORTS:
            specs.append(("allow-api-server-to-webhook", {
                "podSelector": {}, "policyTypes": ["Ingress"],
                "ingress": [{"ports": _tcp([WEBHOOK_PORTS[role]])}]}))
        return specs

    @staticmethod
    def _flows(args: PlatformNetworkArgs, ns: str, role: str | None,
               roles: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
        every_pod: dict[str, Any] = {"namespaceSelector": {}, "podSelector": {}}
        if role == "gateway":
            nginx = {"matchLabels": dict(args.data_plane.pod_labels or {})}
            return [
                ("allow-public-to-data-plane", {"podSelector": nginx, "policyTypes": ["Ingress"],
                                                "ingress": [{"ports": _tcp(GATEWAY_PORTS)}]}),
                # the route's backends in any namespace; their own ingress policies decide who is reached
                ("allow-data-plane-to-backends", {"podSelector": nginx, "policyTypes": ["Egress"],
                                                  "egress": [{"to": [every_pod]}]}),
            ]
        if role == "monitoring":
            prometheus = {"matchLabels": dict(args.prometheus.pod_labels or {})}
            return [
                ("allow-prometheus-to-every-pod-and-node", {"podSelector": prometheus, "policyTypes": ["Egress"],
                                                            "egress": [{"to": [every_pod]},
                                                                       {"ports": _tcp(NODE_PORTS)}]}),
                ("allow-data-plane-to-grafana", {"podSelector": {"matchLabels": GRAFANA_POD_LABELS},
                                                 "policyTypes": ["Ingress"],
                                                 "ingress": [{"from": [args.data_plane.as_kubernetes()],
                                                              "ports": _tcp([GRAFANA_PORT])}]}),
            ]
        if role == "databases":
            return [("allow-operator-to-instances", {
                "podSelector": {}, "policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {}, "podSelector": {"matchExpressions": [
                    {"key": CNPG_INSTANCE_LABEL, "operator": "Exists"}]}}], "ports": _tcp(CNPG_PORTS)}]})]
        if role == "cert_manager":
            # the HTTP-01 self-check fetches http://<hostname>/.well-known/... through the public address
            return [("allow-http01-self-check", {"podSelector": {}, "policyTypes": ["Egress"],
                                                 "egress": [{"ports": _tcp([HTTP_PORT])}]})]
        return []


def _tcp(ports: Any) -> list[dict[str, Any]]:
    return [{"port": p, "protocol": "TCP"} for p in ports]
