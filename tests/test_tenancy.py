"""Tenancy: every app namespace carries its guardrails; platform namespaces get the least Pod
Security level that works, and each exception is named here."""

from __future__ import annotations

from event_platform import labels
from harness import stack_config, tenant_namespaces

PSA_ENFORCE = f"{labels.POD_SECURITY}/enforce"

# The only namespaces allowed to run looser than `restricted`, and why (see stack.platform_namespaces).
PSA_EXCEPTIONS = {"monitoring": "privileged"}  # node-exporter (host network/PID, host root filesystem)


def app_namespaces(recording):
    """Every app namespace: the environments' own and every team's."""
    return [ns.name for ns in tenant_namespaces(stack_config(recording.stack))]


def test_every_app_namespace_enforces_restricted_pod_security(every_recording) -> None:
    recording = every_recording
    for name in app_namespaces(recording):
        ns = recording.object("Namespace", name)
        assert ns.metadata["labels"][PSA_ENFORCE] == "restricted"
        assert ns.metadata["labels"][f"{labels.POD_SECURITY}/warn"] == "restricted"
        assert ns.metadata["labels"][f"{labels.POD_SECURITY}/audit"] == "restricted"


def test_every_namespace_audits_and_warns_at_restricted_whatever_it_enforces(every_recording) -> None:
    """Pod Security's audit log and kubectl warnings are how a looser namespace stays visible: a
    privileged namespace auditing at `privileged` would hide exactly the pods worth reviewing."""
    recording = every_recording
    for ns in recording.objects("Namespace"):
        found = ns.metadata["labels"]
        assert found[f"{labels.POD_SECURITY}/audit"] == "restricted", ns.k8s_name
        assert found[f"{labels.POD_SECURITY}/warn"] == "restricted", ns.k8s_name
        assert found[f"{labels.POD_SECURITY}/enforce-version"] == "latest", ns.k8s_name


def test_platform_namespaces_are_restricted_except_the_named_exceptions(every_recording) -> None:
    """A namespace silently running privileged pods is exactly what Pod Security exists to stop."""
    recording = every_recording
    for ns in recording.objects("Namespace"):
        expected = PSA_EXCEPTIONS.get(ns.k8s_name, "restricted")
        assert ns.metadata["labels"][PSA_ENFORCE] == expected, ns.k8s_name


def test_every_app_namespace_has_the_quota_and_limits_from_its_config(every_recording) -> None:
    recording = every_recording
    for ns_cfg in tenant_namespaces(stack_config(recording.stack)):
        quota = recording.object("ResourceQuota", "environment-quota", ns_cfg.name).plain["spec"]["hard"]
        assert quota["requests.memory"] == ns_cfg.quota.requests_memory
        assert quota["limits.memory"] == ns_cfg.quota.limits_memory
        assert quota["requests.storage"] == ns_cfg.quota.requests_storage
        assert quota["pods"] == str(ns_cfg.quota.pods)
        limits = recording.object("LimitRange", "container-defaults", ns_cfg.name).plain["spec"]["limits"][0]
        assert limits["default"]["memory"] == ns_cfg.limits.default_limit_memory
        assert limits["max"]["memory"] == ns_cfg.limits.max_memory


def test_no_app_namespace_gives_or_demands_a_cpu_limit(every_recording) -> None:
    """The resource model (README): CPU is shared by requests only. A `limits.cpu` quota makes every
    container name a CPU limit, and a LimitRange CPU default or max hands one to every container that
    names none; with either, a container asking for more CPU than that default (the 1-CPU Postgres
    pods) is refused at admission."""
    recording = every_recording
    for name in app_namespaces(recording):
        hard = recording.object("ResourceQuota", "environment-quota", name).plain["spec"]["hard"]
        assert "limits.cpu" not in hard and "requests.cpu" in hard
        (item,) = recording.object("LimitRange", "container-defaults", name).plain["spec"]["limits"]
        assert "cpu" not in item.get("default", {}) and "cpu" not in item.get("max", {}), item
        assert "cpu" in item["defaultRequest"], "a container naming no CPU request still counts against the quota"


def test_every_app_namespace_denies_all_traffic_by_default(every_recording) -> None:
    recording = every_recording
    for name in app_namespaces(recording):
        spec = recording.object("NetworkPolicy", "default-deny", name).plain["spec"]
        assert spec == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_dns_egress_is_allowed_only_to_the_cluster_dns_pods(every_recording) -> None:
    recording = every_recording
    for name in app_namespaces(recording):
        spec = recording.object("NetworkPolicy", "allow-dns-egress", name).plain["spec"]
        assert "ingress" not in spec and spec["policyTypes"] == ["Egress"]
        (rule,) = spec["egress"]
        assert {(p["port"], p["protocol"]) for p in rule["ports"]} == {(53, "UDP"), (53, "TCP")}
        assert rule["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


def test_the_developer_role_deploys_only_where_its_access_is_edit(every_recording) -> None:
    """`edit` environments deploy directly; `operate` (production) deploys only through `pulumi up`.
    Neither grants Secrets directly (what running pods implies: tests/test_access_matrix.py)."""
    recording = every_recording
    for ns in tenant_namespaces(stack_config(recording.stack)):
        rules = recording.object("Role", "developer", ns.name).plain["rules"]
        assert not any("secrets" in r["resources"] or "*" in r["resources"] for r in rules)
        deploy = {v for r in rules if "deployments" in r["resources"] for v in r["verbs"]}
        assert ({"create", "update", "patch"} <= deploy) == (ns.developer_access == "edit"), ns.name


def test_the_viewer_role_is_read_only(every_recording) -> None:
    """The story's intern can look at production but cannot delete it."""
    recording = every_recording
    for name in app_namespaces(recording):
        rules = recording.object("Role", "viewer", name).plain["rules"]
        assert {v for r in rules for v in r["verbs"]} == {"get", "list", "watch"}
        assert not any("secrets" in r["resources"] for r in rules)


def test_roles_are_bound_to_exactly_the_groups_in_config(every_recording) -> None:
    recording = every_recording
    for ns_cfg in tenant_namespaces(stack_config(recording.stack)):
        for role, groups in (("developer", ns_cfg.developer_groups), ("viewer", ns_cfg.viewer_groups)):
            binding = recording.object("RoleBinding", f"{role}s", ns_cfg.name).plain
            assert binding["roleRef"]["name"] == role
            assert [s["name"] for s in binding["subjects"]] == list(groups)


def test_everything_in_an_app_namespace_is_created_after_the_namespace(every_recording) -> None:
    recording = every_recording
    for name in app_namespaces(recording):
        ns = recording.object("Namespace", name)
        for obj in recording.objects(namespace=name):
            assert recording.depends_on(obj, ns), f"{obj.kind}/{obj.k8s_name}"


def flows(policy) -> set[tuple[str, str, str, tuple]]:
    """(direction, selected pods, peer, ports) for each rule of a NetworkPolicy, peers as `ns:labels`."""
    spec = policy.plain["spec"]
    selected = ",".join(f"{k}={v}" for k, v in sorted(spec["podSelector"].get("matchLabels", {}).items())) or "*"
    out = set()
    for direction, key in (("in", "from"), ("out", "to")):
        for rule in spec.get("ingress" if direction == "in" else "egress", []):
            ports = tuple(sorted({p["port"] for p in rule.get("ports", [])}))
            for peer in rule.get(key) or [None]:
                if peer is None:
                    out.add((direction, selected, "anywhere", ports))
                    continue
                ns = peer.get("namespaceSelector", {}).get("matchLabels", {}).get(labels.NAMESPACE_NAME, "same")
                pods = ",".join(f"{k}={v}" for k, v in sorted(peer.get("podSelector", {}).get("matchLabels", {}).items()))
                out.add((direction, selected, f"{ns}:{pods or '*'}", ports))
    return out


COLLECTOR = "app.kubernetes.io/name=collector"
STABLE = f"{COLLECTOR},event-platform.io/track=stable"
DB = "cnpg.io/cluster=events-db"
REDIS = "app.kubernetes.io/component=cache,app.kubernetes.io/name=redis"
PROMETHEUS = "app.kubernetes.io/name=prometheus"


def expected_flows(backups: bool) -> set[tuple[str, str, str, tuple]]:
    """Every flow an app namespace allows; anything else is denied. Adding a flow means adding it here."""
    allowed = {
        ("out", "*", "kube-system:k8s-app=kube-dns", (53,)),
        ("in", STABLE, "gateway:gateway.networking.k8s.io/gateway-name=platform", (8080,)),
        ("in", COLLECTOR, f"monitoring:{PROMETHEUS},operator.prometheus.io/name=kube-prometheus-stack-prometheus",
         (8080,)),
        ("out", COLLECTOR, f"same:{DB}", (5432,)),
        ("in", DB, f"same:{COLLECTOR}", (5432,)),
        ("out", COLLECTOR, f"same:{REDIS}", (6379,)),
        ("in", REDIS, f"same:{COLLECTOR}", (6379,)),
        ("in", DB, "cnpg-system:app.kubernetes.io/name=cloudnative-pg", (5432, 8000)),
        ("in", DB, f"same:{DB}", (5432, 8000)),
        ("out", DB, f"same:{DB}", (5432, 8000)),
        ("out", DB, "anywhere", (443, 6443)),
        ("in", DB, f"monitoring:{PROMETHEUS}", (9187,)),
    }
    if backups:
        allowed.add(("out", DB, "anywhere", (443,)))
    return allowed


def test_each_app_namespace_allows_exactly_the_listed_flows(every_recording) -> None:
    """Default deny plus only these allows: a new NetworkPolicy opening anything else fails here."""
    recording = every_recording
    cfg = stack_config(recording.stack)
    for name in cfg.namespaces.app_names:  # the environments' own: the collector's (teams: tests/test_teams.py)
        policies = [p for p in recording.objects("NetworkPolicy", name) if p.k8s_name != "default-deny"]
        actual = set().union(*(flows(p) for p in policies))
        assert actual == expected_flows(backups=cfg.postgres.backup is not None), name
