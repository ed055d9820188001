"""Proof of separation between teams, on every stack (the real ones, the onboarding fixture, and the real
ones plus teams whose services ask for everything): a team's groups touch nothing in another team's
namespaces, a team's namespace attaches only its own hostnames, its pods reach another team's only
where a call was declared, its store serves only its namespaces, and its namespace holds what its
services asked for and nothing else."""

from __future__ import annotations

import access_matrix
import gateway_ownership as ownership
from event_platform.config import PLATFORM_TEAM, team_namespace
from event_platform.config.services import NAMESPACE_NAMES, PLATFORM_OBJECT_NAMES, object_names
from flow_matrix import flow_matrix
from harness import stack_config, tenant_namespaces
from test_flow_matrix import declared_calls, endpoints


def owners(cfg) -> dict[str, str]:
    """Every app namespace's team."""
    out = {name: PLATFORM_TEAM for name in cfg.namespaces.app_names}
    out.update({ns: team.name for ns, (team, _) in cfg.team_namespaces().items()})
    return out


def groups_of(cfg) -> dict[str, set[str]]:
    """Every team's groups (the platform team's: those of the environments' own namespaces)."""
    out = {PLATFORM_TEAM: {g for ns in cfg.namespaces.apps for g in (*ns.developer_groups, *ns.viewer_groups)}}
    out.update({t.name: {*t.developer_groups, *t.viewer_groups} for t in cfg.teams})
    return out


def test_the_stacks_with_teams_have_teams_to_separate(every_recording) -> None:
    """The checks below are vacuous on a stack without teams: the fixture and the generated stacks have
    at least two each."""
    cfg = stack_config(every_recording.stack)
    assert every_recording.stack in ("dev", "prod") or len(cfg.teams) >= 2


def test_a_teams_groups_can_touch_nothing_in_another_teams_namespaces(every_recording) -> None:
    """If this fails, one team's developers can read another team's pods, logs or Secrets (or the
    collector's, or the other way round)."""
    rec, cfg = every_recording, stack_config(every_recording.stack)
    teams, groups = owners(cfg), groups_of(cfg)
    for ns in tenant_namespaces(cfg):
        for team, members in groups.items():
            if team == teams[ns.name]:
                continue
            for group in members - groups[teams[ns.name]]:
                can = access_matrix.group_capabilities(rec, ns.name, group)
                assert not any(can.values()), (ns.name, group, {k for k, v in can.items() if v})


def test_a_team_attaches_only_its_own_hostnames(every_recording) -> None:
    """If this fails, a team's HTTPRoute can take over another team's hostname on the shared Gateway.
    (With TLS the plain-HTTP listener of each hostname is the gateway namespace's: the redirect and the
    ACME solver, docs/tenancy.md.)"""
    rec, cfg = every_recording, stack_config(every_recording.stack)
    tls = cfg.gateway.tls is not None
    for team in cfg.teams:
        for svc in team.services:
            for env, env_cfg in svc.environments.items():
                own = {team_namespace(team.name, env)}
                assert ownership.attachable(rec, env_cfg.hostname, "HTTPS" if tls else "HTTP") == own
                assert ownership.attachable(rec, env_cfg.hostname) == own | ({cfg.namespaces.platform.gateway} if tls
                                                                             else set())


def test_a_teams_pods_reach_another_teams_pods_only_where_a_call_was_declared(every_recording) -> None:
    """If this fails, a compromised pod of one team reaches another team's service, database or cache."""
    rec, cfg = every_recording, stack_config(every_recording.stack)
    teams = owners(cfg)
    calls = {(caller, callee) for caller, callee, _ in declared_calls(rec.stack)}
    pods = [e for e in endpoints(rec.stack) if e.namespace in teams]
    crossing = {(s, t, p) for s, t, p in flow_matrix(rec, pods)
                if teams[s.split("/")[0]] != teams[t.split("/")[0]] and (s, t) not in calls}
    assert crossing == set()


def test_the_onboarding_teams_cannot_reach_each_other(fixture_recordings) -> None:
    """The issue's example: greetings' pods cannot open billing, nor its database; payments' pods cannot
    open greeter (neither declared a call)."""
    rec = fixture_recordings["onboarding"]
    greeter = ("greetings-dev", {"app.kubernetes.io/name": "greeter", "event-platform.io/track": "stable"})
    billing = ("payments-dev", {"app.kubernetes.io/name": "billing", "event-platform.io/track": "stable"})
    from flow_matrix import allowed

    assert not allowed(rec, greeter, billing, 9000)
    assert not allowed(rec, greeter, ("payments-dev", {"cnpg.io/cluster": "billing-db"}), 5432)
    assert not allowed(rec, billing, greeter, 8080)
    assert allowed(rec, billing, ("payments-dev", {"cnpg.io/cluster": "billing-db"}), 5432)


def test_a_team_namespace_holds_what_its_services_asked_for_and_nothing_else(every_recording) -> None:
    """If this fails, a team's namespace gets a collector, a database or a cache it did not ask for (or
    an object named outside its services' names, which could collide)."""
    rec, cfg = every_recording, stack_config(every_recording.stack)
    for ns, (team, env) in cfg.team_namespaces().items():
        here = [svc for svc in team.services if env in svc.environments]
        allowed = set(NAMESPACE_NAMES).union(*(object_names(s.name, database=s.database, cache=s.cache) for s in here))
        found = {obj.k8s_name for obj in rec.objects(namespace=ns)}
        assert found <= allowed, (ns, sorted(found - allowed))
        assert {o.k8s_name for o in rec.objects("Cluster", ns)} == {f"{s.name}-db" for s in here if s.database}
        assert {o.k8s_name for o in rec.objects("StatefulSet", ns)} == {f"{s.name}-cache" for s in here if s.cache}
        assert not [o for o in rec.objects(namespace=ns) if o.k8s_name and "collector" in o.k8s_name]


def test_the_reserved_names_cover_everything_the_platform_puts_into_an_environments_namespace(
        every_recording) -> None:
    """The names a service may not take (config/services.py PLATFORM_OBJECT_NAMES) must include every
    object the platform's components create in an environment's own namespace; if this fails, a
    component gained an object a service of that name would collide with."""
    rec, cfg = every_recording, stack_config(every_recording.stack)
    for env in cfg.namespaces.app_names:
        names = {obj.k8s_name for obj in rec.objects(namespace=env)}
        assert names - PLATFORM_OBJECT_NAMES == set(), env


def test_each_store_serves_exactly_its_teams_namespaces_and_every_external_secret_its_own(every_recording) -> None:
    """If this fails, a team's ExternalSecret can name another team's (or the platform's) store and read
    its entries, or a service's own secret is refused by its store."""
    rec, cfg = every_recording, stack_config(every_recording.stack)
    teams = owners(cfg)
    stores = {s.k8s_name: s.plain["spec"] for s in rec.objects("ClusterSecretStore")}
    for team in cfg.teams:
        spec = stores[f"team-{team.name}"]
        assert spec["conditions"] == [{"namespaces": sorted(team_namespace(team.name, e) for e in team.environments)}]
        aws = spec["provider"].get("aws")
        assert aws is None or aws["prefix"] == f"{cfg.secrets.key_prefix}{team.name}/"
    assert not set(stores["platform-secrets"]["conditions"][0]["namespaces"]) & set(cfg.team_namespaces())
    for es in rec.objects("ExternalSecret"):
        store = stores[es.plain["spec"]["secretStoreRef"]["name"]]
        assert es.namespace in store["conditions"][0]["namespaces"], es.namespace
        if es.namespace in cfg.team_namespaces():
            assert es.plain["spec"]["secretStoreRef"]["name"] == f"team-{teams[es.namespace]}"


def test_a_teams_dev_store_reads_only_its_own_namespace(every_recording) -> None:
    """With the dev store each team's entries sit in a namespace of their own, which only the team's
    reader may read: another team's store cannot name them."""
    rec, cfg = every_recording, stack_config(every_recording.stack)
    stores = {s.k8s_name: s.plain["spec"]["provider"] for s in rec.objects("ClusterSecretStore")}
    for team in cfg.teams:
        kube = stores[f"team-{team.name}"].get("kubernetes")
        if kube is None:
            continue
        source = f"{cfg.secrets.store.namespace}-{team.name}"
        assert kube["remoteNamespace"] == source and kube["auth"]["serviceAccount"]["namespace"] == source
        readers = [b for b in rec.objects("RoleBinding") if any(
            s.get("kind") == "ServiceAccount" and s.get("namespace") == source for s in b.plain["subjects"])]
        assert [b.namespace for b in readers] == [source]
