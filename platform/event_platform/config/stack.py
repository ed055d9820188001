"""`PlatformConfig`: everything one stack says, one field per `event-platform:<key>` section, and
the checks that need more than one section."""

from __future__ import annotations

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
    SecretsConfig,
)
from event_platform.config.services import (
    ServiceConfig,
)
from event_platform.config.tenancy import (
    NamespacesConfig,
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
    services: tuple[ServiceConfig, ...] = ()
    """More teams' services (docs/onboarding.md). Omitted: the collector alone."""

    @model_validator(mode="after")
    def _services_fit(self) -> PlatformConfig:
        apps, domain = set(self.namespaces.app_names), self.gateway.domain
        owner: dict[str, str] = {env.hostname: f"collector.environments.{name}.hostname"
                                 for name, env in self.collector.environments.items()}
        grafana = self.observability.grafana_hostname or f"grafana.{domain}"
        owner.setdefault(grafana, "observability.grafanaHostname")
        names = ["collector"]
        for i, svc in enumerate(self.services):
            where = f"services[{i}]"
            if svc.name in names:
                raise PlacedError(f"{where}.name", svc.name, "a service name no other service (nor the "
                                  "collector) uses: it names every object in the namespace")
            names.append(svc.name)
            for env_name, env in svc.environments.items():
                key = f"{where}.environments.{env_name}"
                if env_name not in apps:
                    raise PlacedError(f"{where}.environments", env_name, f"one of the app namespaces {sorted(apps)}")
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
        return self

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

