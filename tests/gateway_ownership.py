"""Who can attach an HTTPRoute to which hostname, read from a recorded Gateway the way the Gateway API
defines it (listener hostname matching, `allowedRoutes.namespaces`); reusable for any Recording."""

from __future__ import annotations

from event_platform import labels, offline

ATTACKER_NAMESPACE = "not-a-platform-namespace"
"""A namespace the stack does not declare; it copies every label of every declared namespace
(except the name, which Kubernetes sets), so label opt-ins cannot be faked past the check."""


def selector_matches(selector: dict, labels_: dict[str, str]) -> bool:
    """LabelSelector semantics (matchLabels and matchExpressions)."""
    if any(labels_.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if (op == "In" and labels_.get(key) not in values) or (op == "NotIn" and labels_.get(key) in values) \
                or (op == "Exists" and key not in labels_) or (op == "DoesNotExist" and key in labels_):
            return False
    return True


def namespace_labels(rec: offline.Recording) -> dict[str, dict[str, str]]:
    """Every declared namespace's labels as the API server stores them, plus the attacker's."""
    out = {ns.k8s_name: {**(ns.metadata.get("labels") or {}), labels.NAMESPACE_NAME: ns.k8s_name}
           for ns in rec.objects("Namespace")}
    copied: dict[str, str] = {}
    for found in out.values():
        copied |= found
    out[ATTACKER_NAMESPACE] = {**copied, labels.NAMESPACE_NAME: ATTACKER_NAMESPACE}
    return out


def hostname_matches(listener_hostname: str | None, hostname: str) -> bool:
    """Gateway API listener hostname matching: none matches all; `*.a.b` matches one or more labels."""
    if listener_hostname is None:
        return True
    if listener_hostname.startswith("*."):
        return hostname.endswith(listener_hostname[1:])
    return listener_hostname == hostname


def admitted_namespaces(listener: dict, gateway_namespace: str, all_labels: dict[str, dict[str, str]]) -> set[str]:
    """Namespaces whose HTTPRoutes this listener accepts."""
    allowed = listener.get("allowedRoutes") or {}
    kinds = {k["kind"] for k in allowed.get("kinds") or [{"kind": "HTTPRoute"}]}
    if "HTTPRoute" not in kinds:
        return set()
    namespaces = allowed.get("namespaces") or {"from": "Same"}
    if namespaces["from"] == "All":
        return set(all_labels)
    if namespaces["from"] == "Same":
        return {gateway_namespace}
    return {name for name, found in all_labels.items() if selector_matches(namespaces["selector"], found)}


def gateways(rec: offline.Recording) -> list[offline.Resource]:
    return rec.objects("Gateway")


def attachable(rec: offline.Recording, hostname: str, protocol: str | None = None) -> set[str]:
    """Namespaces that can attach an HTTPRoute serving `hostname` to any Gateway of the recording
    (on listeners of `protocol` only, when given)."""
    all_labels = namespace_labels(rec)
    out: set[str] = set()
    for gw in gateways(rec):
        for listener in gw.plain["spec"]["listeners"]:
            if protocol is not None and listener["protocol"] != protocol:
                continue
            if hostname_matches(listener.get("hostname"), hostname):
                out |= admitted_namespaces(listener, gw.namespace, all_labels)
    return out
