"""`PlatformConfig`: everything one stack says, one field per `event-platform:<key>` section, and
the checks that need more than one section."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from event_platform.config.base import (
    DnsLabel,
    Model,
    PlacedError,
)
from event_platform.config.cluster import ClusterConfig
from event_platform.config.collector import (
    CollectorConfig,
)
from event_platform.config.data import PostgresConfig, RedisConfig
from event_platform.config.gateway import GatewayConfig
from event_platform.config.observability import (
    ObservabilityConfig,
)
from event_platform.config.secrets import (
    KubernetesStoreConfig,
    SecretsConfig,
)
from event_platform.config.services import (
    ServiceConfig,
)
from event_platform.config.tenancy import (
    ENVIRONMENT_NAME_MAX,
    PLATFORM_TEAM,
    NamespacesConfig,
    TeamConfig,
    team_namespace,
)


class PlatformConfig(Model):
    """Everything one stack says. The keys are the stack file's `event-platform:<key>` entries."""

    stack: DnsLabel
    """The stack's name (dev, prod); not a stack file key, filled in by the loaders."""
    cluster: ClusterConfig
    namespaces: NamespacesConfig
    gateway: GatewayConfig
    observability: ObservabilityConfig = ObservabilityConfig()
    postgres: PostgresConfig = PostgresConfig()
    redis: RedisConfig = RedisConfig()
    secrets: SecretsConfig
    collector: CollectorConfig
    teams: tuple[TeamConfig, ...] = ()
    """The teams besides the platform's, each with its namespaces and services (docs/onboarding.md).
    Omitted: the collector alone."""

    @model_validator(mode="before")
    @classmethod
    def _services_belong_to_a_team(cls, data: Any) -> Any:
        if isinstance(data, dict) and "services" in data:
            raise PlacedError("services", [s.get("name") for s in data["services"] if isinstance(s, dict)],
                              "services under their team: event-platform:teams[].services (docs/onboarding.md, "
                              "\"Add your team\")")
        return data

    @property
    def services(self) -> tuple[ServiceConfig, ...]:
        """Every team's services."""
        return tuple(svc for team in self.teams for svc in team.services)

    def team_namespaces(self) -> dict[str, tuple[TeamConfig, str]]:
        """Every team's namespace by name, with its team and environment."""
        return {team_namespace(t.name, env): (t, env) for t in self.teams for env in t.environments}

    @model_validator(mode="after")
    def _teams_fit(self) -> PlatformConfig:
        apps, domain = set(self.namespaces.app_names), self.gateway.domain
        taken = {*apps, *self.namespaces.platform.model_dump().values()}
        store = self.secrets.store
        owner: dict[str, str] = {env.hostname: f"collector.environments.{name}.hostname"
                                 for name, env in self.collector.environments.items()}
        owner.setdefault(self.observability.grafana_hostname or f"grafana.{domain}", "observability.grafanaHostname")
        teams: dict[str, TeamConfig] = {}
        for t, team in enumerate(self.teams):
            where = f"teams[{t}]"
            if team.name == PLATFORM_TEAM or team.name in teams:
                raise PlacedError(f"{where}.name", team.name, f"a team name no other team uses ({PLATFORM_TEAM} is the "
                                  "collector's: the environments' own namespaces)")
            teams[team.name] = team
            for env in team.environments:
                ns = team_namespace(team.name, env)
                if env not in apps:
                    raise PlacedError(f"{where}.environments", env, f"one of the environments {sorted(apps)}")
                if len(ns) > ENVIRONMENT_NAME_MAX or ns in taken:
                    raise PlacedError(f"{where}.name", team.name, f"a team name that makes namespace {ns} unique and "
                                      f"at most {ENVIRONMENT_NAME_MAX} characters long")
                taken.add(ns)
            if isinstance(store, KubernetesStoreConfig) and (dev := f"{store.namespace}-{team.name}") in taken:
                raise PlacedError(f"{where}.name", team.name, f"a team name whose store namespace {dev} is unique")
            for i, svc in enumerate(team.services):
                self._service_fits(f"{where}.services[{i}]", svc, owner)
        for t, team in enumerate(self.teams):
            for i, svc in enumerate(team.services):
                for c, callee in enumerate(svc.calls.services):
                    other, _, name = callee.rpartition("/")
                    found = next((s for s in teams[other or team.name].services if s.name == name), None) \
                        if (other or team.name) in teams else None
                    missing = sorted(set(svc.environments) - set(found.environments if found else ()))
                    if found is None or missing:
                        raise PlacedError(f"teams[{t}].services[{i}].calls.services[{c}]", callee,
                                          "a service (`<service>` of the team, `<team>/<service>` of another) "
                                          f"running in every environment this one runs in {sorted(svc.environments)}")
        return self

    def _service_fits(self, where: str, svc: ServiceConfig, owner: dict[str, str]) -> None:
        domain = self.gateway.domain
        if svc.image_pull_secret is not None and isinstance(self.secrets.store, KubernetesStoreConfig):
            raise PlacedError(f"{where}.imagePullSecret", svc.image_pull_secret, "a real secret store for registry "
                              "credentials (the dev store fills entries with random values)")
        for env_name, env in svc.environments.items():
            key = f"{where}.environments.{env_name}"
            if env.hostname != domain and not env.hostname.endswith(f".{domain}"):
                raise PlacedError(f"{key}.hostname", env.hostname, f"a hostname under the Gateway's domain "
                                  f"{domain} (gateway.domain)")
            if env.hostname in owner:
                raise PlacedError(f"{key}.hostname", env.hostname, f"a hostname nothing else serves; "
                                  f"{owner[env.hostname]} has it")
            owner[env.hostname] = f"{key}.hostname"
            if self.cluster.type == "managed" and env.replicas < 2:
                raise PlacedError(f"{key}.replicas", env.replicas, "at least 2 on a managed cluster, so a "
                                  "node can fail or drain")

    @model_validator(mode="after")
    def _cross_checks(self) -> PlatformConfig:
        apps = set(self.namespaces.app_names)
        envs = set(self.collector.environments)
        if envs != apps:
            raise ValueError(
                f"collector.environments names {sorted(envs)}; expected exactly the app namespaces {sorted(apps)}")
        unreachable = (".localtest.me", ".local", ".localhost", ".test", ".example", ".invalid", ".internal")
        if self.gateway.tls is not None and self.gateway.tls.issuer.startswith("letsencrypt"):
            # HTTP-01 needs public DNS pointing at the front door before a certificate can issue
            for host in [env.hostname for env in self.collector.environments.values()]:
                if f".{host}".endswith(unreachable):
                    raise ValueError(f"gateway.tls.issuer {self.gateway.tls.issuer} cannot prove {host}: Let's "
                                     "Encrypt resolves it publicly; expected a public domain or issuer self-signed")
        if self.cluster.type == "managed":
            # One replica behind a PDB blocks node drains, and one Postgres instance is no HA.
            image = self.collector.image
            if image.platforms is None and image.prebuilt is None:
                # the host's architecture fits a kind node on that host, not a remote cluster's nodes
                raise ValueError("collector.image.platforms is not set on a managed cluster; expected the "
                                 "platforms of its nodes, e.g. [linux/amd64]")
            for name, env in self.collector.environments.items():
                if env.replicas < 2:
                    raise ValueError(f"collector.environments.{name}.replicas is {env.replicas} on a managed "
                                     "cluster; expected at least 2 so a node can fail or drain")
        return self

