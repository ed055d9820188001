"""Effective access of the RBAC roles bound in a namespace, derived from a Recording's Roles,
ClusterRoles and bindings the way the API server's RBAC authorizer reads them (reusable for any stack).

Capabilities are what matters for isolation, not verbs: creating a pod, directly or through a workload
controller that creates pods for you, is reading every Secret the pod can mount (kubernetes.io
"RBAC good practices", "Workload creation").
"""

from __future__ import annotations

from event_platform import offline

WRITE = frozenset({"create", "update", "patch"})
WORKLOADS = (("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"),
             ("apps", "replicasets"), ("batch", "jobs"), ("batch", "cronjobs"), ("", "replicationcontrollers"))
"""Controllers that create pods from a template someone with write access controls."""
ROUTES = tuple(("gateway.networking.k8s.io", r) for r in ("httproutes", "grpcroutes", "tlsroutes", "tcproutes"))

CAPABILITIES = ("read quota", "read pods", "logs", "exec", "port-forward", "run pods", "read Secrets", "edit workloads",
                "write endpoints", "edit routes", "restart pods")


def _grants(rules: list[dict], group: str, resource: str, verbs: set[str] | frozenset[str]) -> bool:
    """Does any rule grant one of `verbs` on `group`/`resource` (wildcards included)?"""
    for rule in rules:
        if not ({"*", group} & set(rule.get("apiGroups", []))):
            continue
        if not ({"*", resource} & set(rule.get("resources", []))):
            continue
        if rule.get("resourceNames"):
            continue  # scoped to named objects: not a general capability
        if "*" in rule.get("verbs", []) or verbs & set(rule.get("verbs", [])):
            return True
    return False


def capabilities(rules: list[dict]) -> dict[str, bool]:
    """What a subject holding exactly `rules` in a namespace can do there."""
    can = {
        # `kubectl describe quota` / `describe limits` and the namespace's events: why a pod is refused
        "read quota": _grants(rules, "", "resourcequotas", {"get"}) and _grants(rules, "", "limitranges", {"get"})
        and _grants(rules, "", "events", {"list"}),
        "read pods": _grants(rules, "", "pods", {"get", "list"}),
        "logs": _grants(rules, "", "pods/log", {"get"}),
        "exec": _grants(rules, "", "pods/exec", {"create", "get"}),
        "port-forward": _grants(rules, "", "pods/portforward", {"create", "get"}),
        "edit workloads": any(_grants(rules, g, r, WRITE) for g, r in WORKLOADS),
        "write endpoints": _grants(rules, "", "endpoints", WRITE)
        or _grants(rules, "discovery.k8s.io", "endpointslices", WRITE),
        "edit routes": any(_grants(rules, g, r, WRITE | {"delete"}) for g, r in ROUTES),
    }
    can["run pods"] = _grants(rules, "", "pods", {"create"}) or can["edit workloads"]
    can["read Secrets"] = _grants(rules, "", "secrets", {"get", "list", "watch"}) or can["run pods"]
    can["restart pods"] = (_grants(rules, "", "pods", {"delete"}) or _grants(rules, "", "pods/eviction", {"create"})
                           or can["edit workloads"])
    return can


def rules_of_group(rec: offline.Recording, namespace: str, group: str) -> list[dict]:
    """Every rule a group holds in `namespace`: RoleBindings there (to Roles or ClusterRoles) and
    ClusterRoleBindings (cluster-wide)."""
    roles = {(r.namespace, r.k8s_name): r.plain.get("rules") or [] for r in rec.objects("Role")}
    cluster_roles = {r.k8s_name: r.plain.get("rules") or [] for r in rec.objects("ClusterRole")}
    out: list[dict] = []
    bindings = [b for b in rec.objects("RoleBinding") if b.namespace == namespace] + rec.objects("ClusterRoleBinding")
    for binding in bindings:
        spec = binding.plain
        if not any(s.get("kind") == "Group" and s.get("name") == group for s in spec.get("subjects") or []):
            continue
        ref = spec["roleRef"]
        out += roles.get((namespace, ref["name"]), []) if ref["kind"] == "Role" else cluster_roles.get(ref["name"], [])
    return out


def group_capabilities(rec: offline.Recording, namespace: str, group: str) -> dict[str, bool]:
    return capabilities(rules_of_group(rec, namespace, group))
