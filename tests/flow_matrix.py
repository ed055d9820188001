"""NetworkPolicy evaluation the way a CNI does it, over a Recording (reusable for any stack).

A pod is isolated for a direction once any policy of its namespace selects it with that policy type;
an isolated pod's allowed peers are the union of the rules of every policy selecting it. A flow from
pod A to pod B on a port needs both A's egress and B's ingress to allow it. Endpoints that are not
pods (the API server, the internet) are matched only by rules without peers or by `ipBlock` peers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from event_platform import labels, offline
from gateway_ownership import selector_matches


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace + labels) or, with `namespace=None`, an address outside the pod network."""

    name: str
    namespace: str | None
    pod_labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    ports: tuple[int, ...] = ()
    """Ports it listens on (what a flow to it may target)."""
    host_network: bool = False
    """Pods on the node's network are outside NetworkPolicy (node-exporter): never isolated."""


def _policies(rec: offline.Recording, namespace: str, pod: dict[str, str], kind: str) -> list[dict]:
    return [p.plain["spec"] for p in rec.objects("NetworkPolicy", namespace)
            if kind in p.plain["spec"].get("policyTypes", ["Ingress"])
            and selector_matches(p.plain["spec"].get("podSelector") or {}, pod)]


def _peer_matches(peer: dict, policy_namespace: str, other: Endpoint,
                  namespace_labels: dict[str, dict[str, str]]) -> bool:
    if "ipBlock" in peer:
        # cluster-external addresses; CNIs differ on pod IPs, so count it as matching pods too (stricter)
        return True
    if other.namespace is None:
        return False
    if "namespaceSelector" in peer:
        ns_labels = namespace_labels.get(other.namespace, {labels.NAMESPACE_NAME: other.namespace})
        if not selector_matches(peer["namespaceSelector"], ns_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selector_matches(peer.get("podSelector") or {}, other.pod_labels)


def _port_matches(rule: dict, port: int) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(p.get("port") in (None, port) or (isinstance(p.get("port"), int) and p.get("endPort")
                                                   and p["port"] <= port <= p["endPort"]) for p in ports)


def _allows(specs: list[dict], direction: str, namespace: str, other: Endpoint, port: int,
            namespace_labels: dict[str, dict[str, str]]) -> bool:
    peers_key = "from" if direction == "ingress" else "to"
    for spec in specs:
        for rule in spec.get(direction) or []:
            if not _port_matches(rule, port):
                continue
            peers = rule.get(peers_key)
            if not peers or any(_peer_matches(p, namespace, other, namespace_labels) for p in peers):
                return True
    return False


def namespace_labels(rec: offline.Recording) -> dict[str, dict[str, str]]:
    return {ns.k8s_name: {**(ns.metadata.get("labels") or {}), labels.NAMESPACE_NAME: ns.k8s_name}
            for ns in rec.objects("Namespace")}


def allowed_between(rec: offline.Recording, source: Endpoint, target: Endpoint, port: int) -> bool:
    """Would the CNI let `source` open a connection to `target` on TCP `port`?"""
    ns_labels = namespace_labels(rec)
    if source.namespace is not None and not source.host_network:
        egress = _policies(rec, source.namespace, source.pod_labels, "Egress")
        if egress and not _allows(egress, "egress", source.namespace, target, port, ns_labels):
            return False
    if target.namespace is not None and not target.host_network:
        ingress = _policies(rec, target.namespace, target.pod_labels, "Ingress")
        if ingress and not _allows(ingress, "ingress", target.namespace, source, port, ns_labels):
            return False
    return True


def allowed(rec: offline.Recording, source: tuple[str, dict[str, str]], target: tuple[str, dict[str, str]],
            port: int) -> bool:
    """`allowed_between` for two pods given as (namespace, labels)."""
    return allowed_between(rec, Endpoint("source", source[0], source[1]),
                           Endpoint("target", target[0], target[1]), port)


def flow_matrix(rec: offline.Recording, endpoints: list[Endpoint]) -> set[tuple[str, str, int]]:
    """Every (source, target, port) the policies allow among `endpoints`, to each target's own ports."""
    return {(s.name, t.name, port) for s in endpoints for t in endpoints if s is not t
            for port in t.ports if allowed_between(rec, s, t, port)}
