"""`event-platform:services`: another team's HTTP service (docs/onboarding.md), and the routed
environment settings it shares with the collector (components/web_service.py)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

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


_SECRET_WORDS = ("PASSWORD", "PASSWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL")


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
    """Environment variable -> secret-store entry. Omitted: none."""

    @model_validator(mode="after")
    def _no_secrets_in_env(self) -> ServiceConfig:
        if named := sorted(k for k in self.env if any(w in k.upper() for w in _SECRET_WORDS)):
            # the names only: the values may well be the secrets themselves
            raise PlacedError(".env", named, "no variable whose name says secret: env values sit in plain "
                              "text in the stack file and the ConfigMap; put it under `secrets:` (a store entry)")
        if both := sorted(set(self.env) & set(self.secrets)):
            raise PlacedError(".secrets", both, "each variable in env or in secrets, not both")
        return self

