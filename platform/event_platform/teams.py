"""The teams of a stack, wired (called by `stack.build`): each team's namespaces, its own secret store and
its services with what they ask for. The platform team is not here: its namespaces are the
environments' own (`namespaces.apps`: `dev`, `staging`, `production`), where the collector, its
database and its Redis have always lived, so none of their objects moved when teams came
(docs/tenancy.md, "The team model").
"""

from __future__ import annotations

import pulumi

from event_platform.components.app_namespace import AppNamespace
from event_platform.components.gateway import Gateway
from event_platform.components.observability import Observability
from event_platform.components.postgres import PostgresOperator
from event_platform.components.secrets import SecretStore, SecretStoreArgs
from event_platform.components.team import ServicePeer, TeamEnvironment, TeamEnvironmentArgs
from event_platform.components.tenancy import PlatformNamespaceSpec, TeamNamespaceSpec, Tenancy
from event_platform.config.secrets import KubernetesStoreConfig
from event_platform.config.stack import PlatformConfig
from event_platform.config.tenancy import AppNamespaceConfig, team_namespace


def team_namespace_specs(cfg: PlatformConfig) -> tuple[TeamNamespaceSpec, ...]:
    """Every team's namespace: its quota and limits, the team's groups, the environment's access and
    data protection."""
    envs = {ns.name: ns for ns in cfg.namespaces.apps}
    return tuple(
        TeamNamespaceSpec(environment=env, team=team.name, config=AppNamespaceConfig(
            name=team_namespace(team.name, env), quota=team_env.quota, limits=team_env.limits,
            developer_groups=team.developer_groups, viewer_groups=team.viewer_groups,
            developer_access=envs[env].developer_access, protect_data=envs[env].protect_data))
        for team in cfg.teams for env, team_env in team.environments.items())


def team_store_namespaces(cfg: PlatformConfig) -> tuple[PlatformNamespaceSpec, ...]:
    """With the dev store, each team's entries live in a namespace of their own that only the team's
    store reads."""
    store = cfg.secrets.store
    if not isinstance(store, KubernetesStoreConfig):
        return ()
    return tuple(PlatformNamespaceSpec(name=f"{store.namespace}-{team.name}",
                                       purpose=f"Source secrets of team {team.name}'s store (no pods)")
                 for team in cfg.teams)


def service_peers(cfg: PlatformConfig, environment: str) -> dict[str, ServicePeer]:
    """Every service running in `environment`, by `<team>/<service>`."""
    return {f"{team.name}/{svc.name}": ServicePeer(team_namespace(team.name, environment), svc.name, svc.port)
            for team in cfg.teams for svc in team.services if environment in svc.environments}


def build_teams(cfg: PlatformConfig, tenancy: Tenancy, platform_store: SecretStore, gateway: Gateway,
                observability: Observability, postgres_operator: PostgresOperator,
                opts: pulumi.ResourceOptions | None = None) -> dict[str, dict[str, TeamEnvironment]]:
    """Each team's store and, per environment it runs in, its services: by team, then environment."""
    names = cfg.namespaces.platform
    protect = {ns.name: ns.protect_data for ns in cfg.namespaces.apps}
    store_cfg = cfg.secrets.store
    out: dict[str, dict[str, TeamEnvironment]] = {}
    for team in cfg.teams:
        namespaces = {env: tenancy.teams[team_namespace(team.name, env)] for env in team.environments}
        dev_store = f"{store_cfg.namespace}-{team.name}" if isinstance(store_cfg, KubernetesStoreConfig) else None
        store = SecretStore(f"secrets-{team.name}", SecretStoreArgs(
            config=cfg.secrets, namespace=tenancy.platform[names.secrets], operator=platform_store.operator,
            store_namespace=tenancy.platform[dev_store] if dev_store else None, team=team.name,
            namespaces=tuple(ns.name for ns in namespaces.values())), opts)
        out[team.name] = {}
        for env, namespace in namespaces.items():
            peers = service_peers(cfg, env)
            here = tuple(svc for svc in team.services if env in svc.environments)
            out[team.name][env] = TeamEnvironment(f"team-{team.name}-{env}", TeamEnvironmentArgs(
                team=team.name, environment=env, namespace=namespace, services=here, gateway=gateway,
                observability=observability, secrets=store, postgres=cfg.postgres,
                postgres_operator=postgres_operator, redis=cfg.redis, storage_class=cfg.cluster.storage_class,
                monitoring_namespace=names.monitoring, spread_strictly=cfg.cluster.type == "managed",
                protect=protect[env], callees={c: peers[_qualified(team.name, c)] for svc in here
                                               for c in svc.calls.services},
                callers={svc.name: _callers(cfg, team.name, svc.name, env, namespace) for svc in here}), opts)
    return out


def _qualified(team: str, callee: str) -> str:
    return callee if "/" in callee else f"{team}/{callee}"


def _callers(cfg: PlatformConfig, team: str, service: str, env: str, namespace: AppNamespace
             ) -> tuple[ServicePeer, ...]:
    """The services of `env` that declare calls to `team`'s `service`."""
    return tuple(ServicePeer(team_namespace(t.name, env), svc.name, svc.port)
                 for t in cfg.teams for svc in t.services if env in svc.environments
                 and any(_qualified(t.name, c) == f"{team}/{service}" for c in svc.calls.services))
