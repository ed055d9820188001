"""NetworkPolicy helpers: every app namespace starts default-deny (see `AppNamespace`); each component
that owns a flow declares exactly that flow with these, next to the workload it concerns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from event_platform import labels


@dataclass(frozen=True)
class Peer:
    """The other end of a flow: pods matching `pod_labels` in the namespace named `namespace`
    (None: the policy's own namespace). Empty `pod_labels`: every pod there."""

    namespace: str | pulumi.Output[str] | None = None
    pod_labels: dict[str, str] | None = None

    def as_kubernetes(self) -> dict:
        peer: dict = {"podSelector": {"matchLabels": dict(self.pod_labels or {})}}
        if self.namespace is not None:
            peer["namespaceSelector"] = {"matchLabels": {labels.NAMESPACE_NAME: self.namespace}}
        return peer


def _ports(ports: Sequence[int | str], protocol: str = "TCP") -> list[dict]:
    return [{"port": p, "protocol": protocol} for p in ports]


def allow_ingress(resource_name: str, *, namespace: pulumi.Input[str], policy_name: str,
                  to_pods: dict[str, str], sources: Sequence[Peer], ports: Sequence[int | str],
                  opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    """Lets `sources` reach pods labelled `to_pods` on `ports`, and nothing more."""
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata={"name": policy_name, "namespace": namespace, "labels": labels.common(policy_name, "network")},
        spec={
            "podSelector": {"matchLabels": dict(to_pods)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [s.as_kubernetes() for s in sources], "ports": _ports(ports)}],
        },
        opts=opts,
    )


def allow_egress(resource_name: str, *, namespace: pulumi.Input[str], policy_name: str,
                 from_pods: dict[str, str], destinations: Sequence[Peer] | None, ports: Sequence[int | str],
                 opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    """Lets pods labelled `from_pods` open connections to `destinations` on `ports`.
    `destinations=None` means any address (e.g. the API server or object storage, whose IPs the
    platform cannot know)."""
    rule: dict = {"ports": _ports(ports)}
    if destinations is not None:
        rule["to"] = [d.as_kubernetes() for d in destinations]
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata={"name": policy_name, "namespace": namespace, "labels": labels.common(policy_name, "network")},
        spec={"podSelector": {"matchLabels": dict(from_pods)}, "policyTypes": ["Egress"], "egress": [rule]},
        opts=opts,
    )


def client_slug(client: dict[str, str]) -> str:
    """A short DNS-label name for a client label set, e.g. `collector` for {name: collector}."""
    slug = re.sub(r"[^a-z0-9-]+", "-", "-".join(v for _, v in sorted(client.items())).lower()).strip("-")
    return slug[:30].strip("-") or "client"


def allow_clients(resource_prefix: str, *, namespace: pulumi.Input[str], server_name: str,
                  server_pods: dict[str, str], clients: Sequence[dict[str, str]], port: int,
                  opts: pulumi.ResourceOptions) -> list[k8s.networking.v1.NetworkPolicy]:
    """Lets pods matching each of `clients` (same namespace) connect to `server_pods` on `port`: the
    ingress into the server (`<server>-from-clients`) and each client's egress (`<client>-to-<server>`).
    No clients: no policy, the server stays closed."""
    if not clients:
        return []
    policies = [allow_ingress(
        f"{resource_prefix}-from-clients", namespace=namespace, policy_name=f"{server_name}-from-clients",
        to_pods=server_pods, sources=[Peer(pod_labels=client) for client in clients], ports=[port], opts=opts)]
    for client in clients:
        slug = client_slug(client)
        policies.append(allow_egress(
            f"{resource_prefix}-{slug}-egress", namespace=namespace, policy_name=f"{slug}-to-{server_name}",
            from_pods=client, destinations=[Peer(pod_labels=server_pods)], ports=[port], opts=opts))
    return policies
