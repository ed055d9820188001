"""`build(cfg)`: the one seam. `__main__.py` calls it under the Pulumi engine, tests and render call
it under mocks. It only wires components together; each component owns its own concern."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform import labels
from event_platform.components.admission import AdmissionPolicies, AdmissionPoliciesArgs
from event_platform.components.collector import APP as COLLECTOR_APP
from event_platform.components.collector import Collector, CollectorArgs
from event_platform.components.collector_image import CollectorImage, CollectorImageArgs
from event_platform.components.gateway import Gateway, GatewayArgs
from event_platform.components.network import Peer
from event_platform.components.observability import Observability, ObservabilityArgs
from event_platform.components.platform_network import PlatformNetwork, PlatformNetworkArgs
from event_platform.components.postgres import PostgresOperator, PostgresOperatorArgs
from event_platform.components.postgres_cluster import PostgresCluster, PostgresClusterArgs
from event_platform.components.redis import Redis, RedisArgs
from event_platform.components.secrets import SecretStore, SecretStoreArgs
from event_platform.components.storage_class import StorageClass, StorageClassArgs
from event_platform.components.team import TeamEnvironment
from event_platform.components.tenancy import PlatformNamespaceSpec, Tenancy, TenancyArgs
from event_platform.components.web_service import WebService
from event_platform.config.secrets import KubernetesStoreConfig
from event_platform.config.stack import PlatformConfig
from event_platform.config.tenancy import team_namespace
from event_platform.teams import build_teams, team_namespace_specs, team_store_namespaces


@dataclass(frozen=True)
class Platform:
    """What `build` declared, for exports and tests."""

    config: PlatformConfig
    tenancy: Tenancy
    admission: AdmissionPolicies
    """The ValidatingAdmissionPolicies bound to the tenant namespaces."""
    secrets: SecretStore
    postgres_operator: PostgresOperator
    databases: dict[str, PostgresCluster]
    """One Postgres Cluster per app environment, by environment name."""
    redis: dict[str, Redis]
    """One Redis per app environment, by environment name."""
    gateway: Gateway
    observability: Observability
    platform_network: PlatformNetwork
    """Default deny and the needed flows in every platform namespace."""
    collector_image: CollectorImage
    collectors: dict[str, Collector]
    """The collector in every app environment, by environment name."""
    teams: dict[str, dict[str, TeamEnvironment]]
    """Each team's services with what they asked for, by team, then environment."""

    @property
    def services(self) -> dict[str, dict[str, dict[str, WebService]]]:
        """Every team's services: by team, service and environment."""
        out: dict[str, dict[str, dict[str, WebService]]] = {}
        for team, envs in self.teams.items():
            for env, team_env in envs.items():
                for name, svc in team_env.services.items():
                    out.setdefault(team, {}).setdefault(name, {})[env] = svc
        return out


def platform_namespaces(cfg: PlatformConfig) -> tuple[PlatformNamespaceSpec, ...]:
    """The platform's own namespaces, each at the least Pod Security level its pods work with."""
    names = cfg.namespaces.platform
    specs = [
        # Which namespace may attach routes for which hostname is the Gateway's (served_hostnames).
        PlatformNamespaceSpec(name=names.gateway, purpose="NGINX Gateway Fabric and the platform Gateway",
                              pod_security="restricted"),
        PlatformNamespaceSpec(name=names.monitoring, pod_security="privileged",
                              purpose="Prometheus stack and log shipping; privileged because node-exporter "
                                      "uses the host's network/PID namespaces and mounts the host's root "
                                      "filesystem (Alloy reads logs through the API, no hostPath)"),
        PlatformNamespaceSpec(name=names.databases, purpose="CloudNativePG operator"),
        PlatformNamespaceSpec(name=names.secrets, purpose="External Secrets Operator"),
    ]
    if cfg.gateway.tls is not None:
        specs.append(PlatformNamespaceSpec(name=names.cert_manager, purpose="cert-manager for the Gateway's TLS"))
    if isinstance(cfg.secrets.store, KubernetesStoreConfig):
        specs.append(PlatformNamespaceSpec(name=cfg.secrets.store.namespace,
                                           purpose="Source secrets read by the External Secrets store (no pods)"))
    return (*specs, *team_store_namespaces(cfg))


def served_hostnames(cfg: PlatformConfig) -> dict[str, str]:
    """Every hostname the stack serves through the Gateway, with the one namespace whose routes may
    serve it: each collector and service environment its own namespace, Grafana the monitoring one."""
    grafana = cfg.observability.grafana_hostname or f"grafana.{cfg.gateway.domain}"
    owners: dict[str, str] = {}
    for host, namespace in [*((env.hostname, name) for name, env in cfg.collector.environments.items()),
                            (grafana, cfg.namespaces.platform.monitoring),
                            *((env.hostname, team_namespace(team.name, name)) for team in cfg.teams
                              for svc in team.services for name, env in svc.environments.items())]:
        if owners.setdefault(host, namespace) != namespace:
            raise ValueError(f"hostname {host} is claimed by namespaces {owners[host]} and {namespace}; "
                             "expected one owner per hostname")
    return owners


TENANT_NAMESPACES = {"matchExpressions": [{"key": labels.ENVIRONMENT, "operator": "Exists"}]}
"""The namespaces the admission policies bind to: every app namespace carries its environment's label,
no platform namespace does (node-exporter's host access in `monitoring` stays allowed there)."""


DATA_CLIENTS = ({labels.NAME: COLLECTOR_APP},)
"""Pods allowed to reach each environment's database and Redis: the collector's, stable and canary
(its pod selector without the track label)."""


def build_data(cfg: PlatformConfig, tenancy: Tenancy, secrets: SecretStore,
               crd_dependencies: tuple[pulumi.Resource, ...] = (), opts: pulumi.ResourceOptions | None = None,
               ) -> tuple[PostgresOperator, dict[str, PostgresCluster], dict[str, Redis]]:
    """The Postgres operator, and a database and a Redis in every app environment."""
    names = cfg.namespaces.platform
    operator = PostgresOperator("postgres-operator",
                                PostgresOperatorArgs(namespace=tenancy.platform[names.databases]), opts)
    protect = {ns.name: ns.protect_data for ns in cfg.namespaces.apps}
    databases, caches = {}, {}
    for env, app_ns in tenancy.apps.items():
        databases[env] = PostgresCluster(f"database-{env}", PostgresClusterArgs(
            config=cfg.postgres, namespace=app_ns.namespace, operator=operator,
            storage_class=cfg.cluster.storage_class, clients=DATA_CLIENTS, monitoring_namespace=names.monitoring,
            secrets=secrets, crd_dependencies=crd_dependencies, protect=protect[env]), opts)
        caches[env] = Redis(f"redis-{env}", RedisArgs(
            config=cfg.redis, namespace=app_ns.namespace, secrets=secrets, storage_class=cfg.cluster.storage_class,
            clients=DATA_CLIENTS, monitoring_namespace=names.monitoring, password_key=f"redis-{env}",
            protect=protect[env]), opts)
    return operator, databases, caches


def kubernetes_provider(cfg: PlatformConfig) -> k8s.Provider:
    """The one provider every Kubernetes resource goes through: the stack's named context, never the
    kubeconfig's current one (the stack files disable the default Kubernetes provider)."""
    return k8s.Provider("kubernetes", context=cfg.cluster.context, kubeconfig=cfg.cluster.kubeconfig)


def build(cfg: PlatformConfig, host_platform: str = "linux/amd64") -> Platform:
    """Declares the whole platform for one stack. `host_platform` is the architecture of the machine
    running Pulumi (`__main__.py` detects it): the image is built for it unless the stack lists
    platforms. Omitted: linux/amd64, so renders and tests do not depend on the machine."""
    provider = kubernetes_provider(cfg)
    # children inherit their component's providers: every Kubernetes object below goes through it
    opts = pulumi.ResourceOptions(providers=[provider])
    tenancy = Tenancy("tenancy", TenancyArgs(apps=cfg.namespaces.apps, platform=platform_namespaces(cfg),
                                             teams=team_namespace_specs(cfg)), opts)
    admission = AdmissionPolicies("admission", AdmissionPoliciesArgs(tenant_selector=TENANT_NAMESPACES), opts)
    if cfg.cluster.declare_storage_class is not None and cfg.cluster.storage_class is not None:
        storage = StorageClass("storage-class", StorageClassArgs(
            name=cfg.cluster.storage_class, config=cfg.cluster.declare_storage_class), opts)
        # every claim names this class: it exists before any of them is made
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[storage]))
    store_ns = cfg.secrets.store.namespace if isinstance(cfg.secrets.store, KubernetesStoreConfig) else None
    secrets = SecretStore("secrets", SecretStoreArgs(
        config=cfg.secrets, namespace=tenancy.platform[cfg.namespaces.platform.secrets],
        store_namespace=tenancy.platform[store_ns] if store_ns else None,
        # the platform's entries (the collector's tokens, its databases' and caches' passwords, Grafana's)
        # reach the platform's own namespaces only; each team has a store of its own
        namespaces=(*tenancy.platform, *tenancy.apps)), opts)
    gateway = Gateway("gateway", GatewayArgs(
        config=cfg.gateway, namespace=tenancy.platform[cfg.namespaces.platform.gateway],
        namespace_name=cfg.namespaces.platform.gateway,
        cert_manager_namespace=tenancy.platform.get(cfg.namespaces.platform.cert_manager),
        hostnames=served_hostnames(cfg)), opts)
    observability = Observability("observability", ObservabilityArgs(
        config=cfg.observability, namespace=tenancy.platform[cfg.namespaces.platform.monitoring],
        namespace_name=cfg.namespaces.platform.monitoring, secrets=secrets, gateway=gateway,
        cluster_name=cfg.cluster.name, storage_class=cfg.cluster.storage_class), opts)
    names = cfg.namespaces.platform
    roles = {"gateway": names.gateway, "monitoring": names.monitoring, "databases": names.databases,
             "secrets": names.secrets}
    if names.cert_manager in tenancy.platform:
        roles["cert_manager"] = names.cert_manager
    platform_network = PlatformNetwork("platform-network", PlatformNetworkArgs(
        namespaces=tenancy.platform, roles=roles, data_plane=gateway.data_plane_peer,
        prometheus=Peer(namespace=names.monitoring, pod_labels=observability.prometheus_pod_labels)), opts)
    # the PodMonitors of the databases need the monitoring.coreos.com CRDs of observability's release
    postgres_operator, databases, caches = build_data(cfg, tenancy, secrets,
                                                      crd_dependencies=(observability.release,), opts=opts)
    image = CollectorImage("collector-image", CollectorImageArgs(
        registry=cfg.collector.registry, platforms=cfg.collector.image.platforms or (host_platform,),
        prebuilt=cfg.collector.image.prebuilt))
    collectors = {
        env: Collector(f"collector-{env}", CollectorArgs(
            config=cfg.collector, environment=cfg.collector.environments[env], namespace=app_ns,
            image=image.reference, image_tag=image.tag, gateway=gateway, database=databases[env],
            redis=caches[env], secrets=secrets, observability=observability,
            spread_strictly=cfg.cluster.type == "managed"), opts)
        for env, app_ns in tenancy.apps.items()}
    teams = build_teams(cfg, tenancy, secrets, gateway, observability, postgres_operator, opts)
    return Platform(config=cfg, tenancy=tenancy, admission=admission, secrets=secrets, gateway=gateway,
                    postgres_operator=postgres_operator, databases=databases, redis=caches,
                    observability=observability, platform_network=platform_network, collector_image=image,
                    collectors=collectors, teams=teams)


def outputs(platform: Platform) -> dict[str, Any]:
    """The stack outputs: what an operator needs after `pulumi up`."""
    return {
        "appNamespaces": list(platform.tenancy.apps),
        "platformNamespaces": list(platform.tenancy.platform),
        "secretStore": platform.secrets.store_name,
        "databases": {env: f"{env}/{db.rw_service}" for env, db in platform.databases.items()},
        "redis": {env: f"{env}/{cache.service_name}" for env, cache in platform.redis.items()},
        "gatewayName": f"{platform.gateway.gateway_namespace}/{platform.gateway.gateway_name}",
        "gatewayClass": platform.gateway.gateway_class,
        "gatewayService": f"{platform.gateway.gateway_namespace}/{platform.gateway.data_plane_service}",
        "gatewayUrls": list(platform.gateway.urls),
        "grafanaUrl": platform.observability.grafana_url,
        "collectorImage": platform.collector_image.reference,
        "collectorUrls": {env: c.url for env, c in platform.collectors.items()},
        "serviceUrls": {team: {name: {env: svc.url for env, svc in envs.items()} for name, envs in services.items()}
                        for team, services in platform.services.items()},
    }


def export(platform: Platform) -> None:
    for key, value in outputs(platform).items():
        pulumi.export(key, value)
