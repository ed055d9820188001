"""`event-platform:namespaces`: the app environments (namespace, quota, limits, who may do what) and
the names of the platform's own namespaces (components/tenancy.py, app_namespace.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from event_platform.config.base import (
    DnsLabel,
    Model,
    PlacedError,
    Quantity,
)
from event_platform.config.services import ServiceConfig, object_names

ENVIRONMENT_NAME_MAX = 57
"""63 (a label value) minus the longest prefix the platform puts before an environment's name (`redis-`)."""


def _environment_name(value: str) -> str:
    if len(value) > ENVIRONMENT_NAME_MAX:
        raise ValueError(f"at most {ENVIRONMENT_NAME_MAX} characters (labels such as redis-<env> are derived "
                         "from it and hold 63)")
    return value


class ResourceQuotaConfig(Model):
    """Hard limits for one namespace, so one environment cannot starve another.

    The resource model (README, "Resource model"): CPU is shared by requests alone (no CPU limits,
    so the quota has no `limits.cpu`: it would make every container name one); memory has a request
    and a limit on every container, and the quota caps both sums. Size it for every workload at its
    largest declared scale (`event_platform.capacity` prints that table with `make render`)."""

    requests_cpu: Quantity = "4"
    """Sum of CPU requests. Omitted: 4 cores."""
    requests_memory: Quantity = "8Gi"
    """Sum of memory requests. Omitted: 8Gi."""
    limits_memory: Quantity = "16Gi"
    """Sum of memory limits. Omitted: 16Gi."""
    pods: int = Field(default=50, ge=1)
    """Number of pods. Omitted: 50."""
    persistent_volume_claims: int = Field(default=10, ge=0)
    """Number of PVCs. Omitted: 10."""
    requests_storage: Quantity = "100Gi"
    """Sum of PVC storage requests. Omitted: 100Gi."""


class LimitRangeConfig(Model):
    """Per-container defaults and ceilings, so a container without resources still gets sane ones.

    No CPU default limit and no CPU max: either would give every container a CPU limit (the API
    server defaults a missing `default` from `max`), and a container whose CPU request is above that
    limit is refused, which is how the Postgres pods of a 1-CPU Cluster were refused."""

    default_request_cpu: Quantity = "100m"
    """CPU request given to a container that names none. Omitted: 100m."""
    default_request_memory: Quantity = "128Mi"
    """Memory request given to a container that names none. Omitted: 128Mi."""
    default_limit_memory: Quantity = "512Mi"
    """Memory limit given to a container that names none. Omitted: 512Mi."""
    max_memory: Quantity = "4Gi"
    """Largest memory limit one container may ask for. Omitted: 4Gi."""


class AppNamespaceConfig(Model):
    """One app environment: a namespace the apps of one environment (dev, staging, production) run in."""

    name: Annotated[DnsLabel, AfterValidator(_environment_name)]
    """Namespace name, also the environment's name; at most 57 characters, because names and labels
    are derived from it (`redis-<env>`, 63 at most). Required."""
    quota: ResourceQuotaConfig = ResourceQuotaConfig()
    """Omitted: the ResourceQuotaConfig defaults."""
    limits: LimitRangeConfig = LimitRangeConfig()
    """Omitted: the LimitRangeConfig defaults."""
    developer_groups: tuple[str, ...] = ()
    """Groups (from the cluster's authenticator) bound to the `developer` role. Omitted: nobody."""
    developer_access: Literal["edit", "operate"] = "edit"
    """What the `developer` role may do (docs/tenancy.md has the access matrix). `edit`: deploy and
    change workloads directly, which includes reading every Secret a pod of the namespace can mount.
    `operate`: read, logs and restarting pods through the eviction API; changes go through `pulumi up`,
    and no Secret is reachable. Omitted: edit (set `operate` for production)."""
    viewer_groups: tuple[str, ...] = ()
    """Groups bound to the read-only `viewer` role. Omitted: nobody."""
    protect_data: bool = True
    """Protect the namespace, its Postgres Cluster and its Redis StatefulSet from `pulumi destroy`, a
    rename and any change that would replace them (Pulumi `protect`), and keep them in the cluster if
    Pulumi deletes them anyway (`retainOnDelete`): deleting any of them deletes the data. Omitted:
    true. dev sets false (its cluster is thrown away). docs/data-and-secrets.md says how to lift it."""


class PlatformNamespacesConfig(Model):
    """Names of the namespaces the platform's own pieces run in."""

    gateway: DnsLabel = "gateway"
    """The Gateway controller and the Gateway. Omitted: `gateway`."""
    monitoring: DnsLabel = "monitoring"
    """Prometheus, Alertmanager, Grafana, Loki, Alloy. Omitted: `monitoring`."""
    databases: DnsLabel = "cnpg-system"
    """The CloudNativePG operator. Omitted: `cnpg-system`."""
    secrets: DnsLabel = "external-secrets"
    """The External Secrets Operator. Omitted: `external-secrets`."""
    cert_manager: DnsLabel = "cert-manager"
    """cert-manager, installed only when the gateway asks for TLS. Omitted: `cert-manager`."""


class NamespacesConfig(Model):
    apps: tuple[AppNamespaceConfig, ...] = Field(min_length=1)
    """App environments. Required: at least one."""
    platform: PlatformNamespacesConfig = PlatformNamespacesConfig()
    """Omitted: the default platform namespace names."""

    @model_validator(mode="after")
    def _unique_names(self) -> NamespacesConfig:
        names = [ns.name for ns in self.apps] + list(self.platform.model_dump().values())
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"namespace names used twice: {', '.join(duplicates)}; expected unique names")
        return self

    @property
    def app_names(self) -> tuple[str, ...]:
        return tuple(ns.name for ns in self.apps)



PLATFORM_TEAM = "platform"
"""The team of the collector: its namespaces are the environments' own (`namespaces.apps`)."""
TEAM_NAME_MAX = 40
"""A team's name goes into `<team>-<env>` (at most ENVIRONMENT_NAME_MAX) and, with the dev store, into
`<store namespace>-<team>` (a namespace name, at most 63)."""


def team_namespace(team: str, environment: str) -> str:
    """The namespace of `team` in `environment`."""
    return f"{team}-{environment}"


class TeamEnvironmentConfig(Model):
    """A team's namespace in one environment: its size."""

    quota: ResourceQuotaConfig = ResourceQuotaConfig(requests_cpu="2", requests_memory="4Gi", limits_memory="8Gi",
                                                     pods=30, persistent_volume_claims=10, requests_storage="50Gi")
    """What all its services, databases and caches may use together at their largest scale (`make render`
    prints the table). Omitted: 2 CPUs, 4Gi memory requested, 8Gi limits, 30 pods, 10 claims, 50Gi."""
    limits: LimitRangeConfig = LimitRangeConfig()
    """Omitted: the LimitRangeConfig defaults."""


class TeamConfig(Model):
    """A team: its people, a namespace per environment it runs in, and its services."""

    name: Annotated[DnsLabel, Field(max_length=TEAM_NAME_MAX)]
    """Names its namespaces (`<team>-<env>`) and its secret store (`team-<team>`). Required."""
    developer_groups: tuple[str, ...] = ()
    """Groups bound to the `developer` role in the team's namespaces (edit or operate, as the environment
    says: `namespaces.apps[].developerAccess`). Omitted: nobody."""
    viewer_groups: tuple[str, ...] = ()
    """Groups bound to the read-only `viewer` role in the team's namespaces. Omitted: nobody."""
    environments: dict[DnsLabel, TeamEnvironmentConfig] = Field(min_length=1)
    """The environments it runs in (names of `namespaces.apps`), each with its quota. Required."""
    services: tuple[ServiceConfig, ...] = ()
    """Its services (docs/onboarding.md). Omitted: none yet."""

    @model_validator(mode="after")
    def _services_fit_the_team(self) -> TeamConfig:
        owner: dict[str, str] = {}
        for i, svc in enumerate(self.services):
            if outside := sorted(set(svc.environments) - set(self.environments)):
                raise PlacedError(f".services[{i}].environments", outside[0], f"one of the team's environments "
                                  f"{sorted(self.environments)} (add it under the team's `environments:`)")
            for name in sorted(object_names(svc.name, database=svc.database, cache=svc.cache)):
                if name in owner:
                    raise PlacedError(f".services[{i}].name", svc.name, f"a name whose objects collide with no "
                                      f"other service's: {owner[name]} makes {name} too")
                owner[name] = f"services[{i}] ({svc.name})"
        return self
