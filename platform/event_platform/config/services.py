"""`event-platform:teams[].services`: a team's HTTP service (docs/onboarding.md), what it asks for (a database,
a cache, pull credentials, calls), the names it may not take, and the routed
environment settings it shares with the collector (components/web_service.py)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from event_platform.config.base import (
    DnsLabel,
    Hostname,
    ImageReference,
    Model,
    PlacedError,
    ResourcesConfig,
)


class RoutedEnvironmentConfig(Model):
    """An HTTP workload in one app environment: where the Gateway routes to it and how far it scales.
    The collector's and every config-declared service's environments share it."""

    hostname: Hostname
    """Host its HTTPRoute serves, under the Gateway's domain. Required."""
    replicas: int = Field(default=2, ge=1, le=50)
    """Minimum replicas (the autoscaler's floor). Omitted: 2."""
    max_replicas: int = Field(default=6, ge=1, le=100)
    """The autoscaler's ceiling. Omitted: 6."""

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> Self:
        if self.max_replicas < self.replicas:
            raise ValueError(f"maxReplicas {self.max_replicas} is below replicas {self.replicas}; "
                             "expected maxReplicas >= replicas")
        return self


class ServiceSecretConfig(Model):
    """Where a secret environment variable's value lives in the secret store (never the value)."""

    key: str = Field(min_length=1)
    """Entry name in the store (after the stack's keyPrefix). Required."""
    property: str = Field(min_length=1)
    """Property of that entry. Required."""


class ServiceEnvironmentConfig(RoutedEnvironmentConfig):
    """A service in one app environment."""


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


_SECRET_WORDS = frozenset({"PASSWORD", "PASSWD", "PWD", "PASSPHRASE", "TOKEN", "TOKENS", "SECRET", "SECRETS", "KEY",
                           "KEYS", "APIKEY", "CREDENTIAL", "CREDENTIALS", "PRIVATEKEY"})
"""Words of a variable name that say its value is secret; a name is split into words at `_` and at a
lower-to-upper case change, so `API_TOKEN` and `apiKey` are refused and `TOKENIZER_MODEL` is not."""
_CREDENTIAL_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s@:]*:[^/\s@]+@")
"""A URL carrying a password (`scheme://user:password@host`)."""


def secret_words(name: str) -> set[str]:
    """The words of a variable name that say secret (`DB_PASSWORD` -> {PASSWORD}; `TOKENIZER` -> none)."""
    words = re.split(r"_+|(?<=[a-z0-9])(?=[A-Z])", name)
    return {w.upper() for w in words if w} & _SECRET_WORDS


def carries_credential(value: str) -> bool:
    """Does a plain setting's value carry a credential (a URL with a password in it)?"""
    return bool(_CREDENTIAL_URL.search(value))


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("a network in CIDR notation with no host bits set, e.g. 203.0.113.0/24 or "
                         "198.51.100.7/32") from None
    return value


class ExternalCallConfig(Model):
    """A host outside the cluster the service calls: its network and port (NetworkPolicy egress)."""

    cidr: Annotated[str, AfterValidator(_cidr)]
    """Addresses, e.g. 203.0.113.0/24 (a single host: /32). Required."""
    port: int = Field(ge=1, le=65535)
    """TCP port. Required."""


class ServiceCallsConfig(Model):
    """What a service calls; everything else its pods cannot reach (DNS aside)."""

    services: tuple[Annotated[str, Field(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z]([-a-z0-9]*[a-z0-9])?$")],
                    ...] = ()
    """Other services in the same environment: `<service>` of the same team, `<team>/<service>` of
    another (the callee lets exactly these callers in). Omitted: none."""
    external: tuple[ExternalCallConfig, ...] = ()
    """Hosts outside the cluster by CIDR and port. Omitted: none."""


DATABASE_SUFFIXES = ("", "-rw", "-ro", "-r", "-app", "-superuser", "-ca", "-server", "-replication",
                     "-backup-s3", "-daily", "-from-operator", "-from-instances", "-to-instances",
                     "-to-api-server", "-from-prometheus", "-to-object-storage", "-from-clients", "-pooler")
"""What CloudNativePG and components/postgres_cluster.py name after a Cluster (`<cluster><suffix>`;
its instances and their claims are `<cluster>-<n>`)."""
CACHE_SUFFIXES = ("", "-headless", "-auth", "-config", "-from-clients")
"""What components/redis.py names after a Redis (its claims are `data-<name>-<n>`)."""
SERVICE_SUFFIXES = ("", "-canary", "-primary", "-config", "-secrets", "-dashboard", "-redirect", "-from-gateway",
                    "-from-prometheus", "-calls", "-from-callers", "-pull")
"""What components/web_service.py and components/team.py name after a service (`-primary` and
`-canary`: progressive delivery's Deployments)."""
NAMESPACE_NAMES = frozenset({"default-deny", "allow-dns-egress", "environment-quota", "container-defaults",
                             "developer", "viewer", "developers", "viewers", "kube-root-ca.crt"})
"""Objects every app namespace holds (components/app_namespace.py; kube-root-ca.crt: Kubernetes)."""


def object_names(name: str, *, database: bool = False, cache: bool = False) -> set[str]:
    """Every object name a service (and what it asks for) puts into its namespace; two services collide
    when these meet."""
    names = {f"{name}{suffix}" for suffix in SERVICE_SUFFIXES}
    names |= {f"{name}-{peer}" for peer in ("to-" + name + "-db", "to-" + name + "-cache")}
    if database:
        names |= {f"{name}-db{suffix}" for suffix in DATABASE_SUFFIXES}
    if cache:
        names |= {f"{name}-cache{suffix}" for suffix in CACHE_SUFFIXES}
    return names


RESERVED_NAMES = frozenset({"collector", "redis", "postgres", "events-db", "registry-pull"})
"""What the platform names its own pieces after in an environment's namespace (the collector, its
cache and its database, the pull Secret): no service may be called so, or make an object so named."""
PLATFORM_OBJECT_NAMES = frozenset(
    object_names("collector") | {"collector-auth"} | {f"redis{s}" for s in CACHE_SUFFIXES}
    | {f"events-db{s}" for s in DATABASE_SUFFIXES} | {"postgres", "registry-pull", "collector-to-events-db",
                                                      "collector-to-redis"} | NAMESPACE_NAMES)
"""Every object name the platform's components use in a namespace (tests/test_teams.py checks the
render against it)."""


class ServiceConfig(Model):
    """Another team's stateless HTTP service, from an existing image (see docs/onboarding.md)."""

    name: Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", max_length=30)]
    """Names every object of the service (`<name>`, `<name>-config`, ...). Required."""
    image: ImageReference
    """Image with an explicit tag or digest. Required."""
    port: int = Field(ge=1, le=65535)
    """Port the container serves HTTP on. Required."""
    environments: dict[DnsLabel, ServiceEnvironmentConfig] = Field(min_length=1)
    """App namespaces to run in, each with its hostname. Required: at least one."""
    paths: tuple[Annotated[str, Field(pattern=r"^/")], ...] = ("/",)
    """Path prefixes published on the Gateway. Omitted: every path."""
    liveness_path: str = Field(default="/healthz", pattern=r"^/")
    """Omitted: /healthz."""
    readiness_path: str = Field(default="/readyz", pattern=r"^/")
    """Omitted: /readyz."""
    metrics_path: str | None = Field(default=None, pattern=r"^/")
    """Prometheus metrics on `port`. Omitted: not scraped (the dashboard shows the cluster's metrics)."""
    run_as_user: int = Field(default=10001, ge=1)
    """Numeric non-root user of the image. Omitted: 10001."""
    resources: ResourcesConfig = ResourcesConfig(cpu="100m", memory="128Mi", memory_limit="256Mi")
    """Omitted: 100m CPU, 128Mi memory (256Mi limit)."""
    env: dict[Annotated[str, Field(pattern=_ENV_NAME)], str] = Field(default_factory=dict)
    """Non-secret environment variables. Omitted: none."""
    secrets: dict[Annotated[str, Field(pattern=_ENV_NAME)], ServiceSecretConfig] = Field(default_factory=dict)
    """Environment variable -> entry of the team's secret store. Omitted: none."""
    database: bool = False
    """A Postgres database of its own: CloudNativePG Cluster `<name>-db` in the team's namespace, by the
    platform's database policy (`event-platform:postgres`: instances, size, backups), with its URL in
    `DATABASE_URL` (the `-app` Secret's `uri`). Omitted: none."""
    cache: bool = False
    """A Redis of its own, `<name>-cache`, its URL in `REDIS_URL`. Omitted: none."""
    image_pull_secret: Annotated[str, Field(min_length=1)] | None = None
    """Entry of the team's store holding a `.dockerconfigjson` for a private registry (the pods' image
    pull Secret `<name>-pull`). Omitted: the nodes pull the image on their own."""
    progressive_delivery: bool = False
    """Roll out new versions as a canary judged by metrics (docs/delivery.md). Omitted: rolling updates."""
    calls: ServiceCallsConfig = ServiceCallsConfig()
    """Services and external hosts it calls (NetworkPolicy egress). Omitted: none, DNS aside."""

    @model_validator(mode="after")
    def _no_secrets_in_env(self) -> ServiceConfig:
        if named := sorted(k for k in self.env if secret_words(k)):
            # the names only: the values may well be the secrets themselves
            raise PlacedError(".env", named, "no variable whose name says secret: env values sit in plain "
                              "text in the stack file and the ConfigMap; put it under `secrets:` (a store entry)")
        if carrying := sorted(k for k, v in self.env.items() if carries_credential(v)):
            raise PlacedError(".env", carrying, "no credential in a value (a URL with a password): env values "
                              "sit in plain text; put the URL under `secrets:`")
        if both := sorted(set(self.env) & set(self.secrets)):
            raise PlacedError(".secrets", both, "each variable in env or in secrets, not both")
        given = {"DATABASE_URL": self.database, "REDIS_URL": self.cache}
        if taken := sorted(v for v, on in given.items() if on and (v in self.env or v in self.secrets)):
            raise PlacedError(".env", taken, "no variable the platform sets itself (database: DATABASE_URL, "
                              "cache: REDIS_URL)")
        if self.name in RESERVED_NAMES or object_names(self.name, database=self.database, cache=self.cache) \
                & PLATFORM_OBJECT_NAMES:
            raise PlacedError(".name", self.name, f"a name the platform does not use: {', '.join(sorted(RESERVED_NAMES))} "
                              "and the objects named after them are the platform's")
        return self

