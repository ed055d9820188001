"""One team in one environment: its services (each a `WebService`) and exactly what each asks for in the
stack file, in the team's own namespace and nothing more: a CloudNativePG Cluster `<service>-db` whose
`-app` Secret becomes `DATABASE_URL`, a Redis `<service>-cache` whose URL becomes `REDIS_URL`, an image
pull Secret `<service>-pull` from the team's store entry, and the NetworkPolicies of the calls it
declares (other services by name, external hosts by CIDR and port). Everything secret comes from the
team's own secret store, which serves no other team's entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels
from event_platform.components.app_namespace import AppNamespace
from event_platform.components.gateway import Gateway
from event_platform.components.observability import Observability
from event_platform.components.postgres import PostgresOperator
from event_platform.components.postgres_cluster import PostgresCluster, PostgresClusterArgs
from event_platform.components.redis import Redis, RedisArgs
from event_platform.components.secrets import SecretEntry, SecretStore
from event_platform.components.web_service import WebService
from event_platform.components.web_service_args import Probes, SecretEnv, WebServiceArgs, version_label
from event_platform.config.data import PostgresConfig, RedisConfig
from event_platform.config.services import ServiceConfig

DATABASE_ENV = "DATABASE_URL"
"""The variable a service asking for a database reads its URL from (the `-app` Secret's `uri`)."""
CACHE_ENV = "REDIS_URL"
"""The variable a service asking for a cache reads its URL from."""


@dataclass(frozen=True)
class ServicePeer:
    """A service another one may call: where its pods are and the port they serve."""

    namespace: str
    name: str
    port: int

    @property
    def pod_labels(self) -> dict[str, str]:
        return {labels.NAME: self.name}


class TeamEnvironmentArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    team: str
    environment: str
    namespace: AppNamespace
    """The team's namespace in this environment. Required."""
    services: tuple[ServiceConfig, ...] = ()
    """The team's services running in this environment. Omitted: none (the namespace stays empty)."""
    gateway: Gateway
    observability: Observability
    secrets: SecretStore
    """The team's own store."""
    postgres: PostgresConfig
    """The platform's database policy (instances, size, backups) every service database follows."""
    postgres_operator: PostgresOperator
    redis: RedisConfig
    storage_class: str | None = None
    """Omitted: the cluster's default class."""
    monitoring_namespace: str
    spread_strictly: bool = False
    """Omitted: spread when possible (a one-node kind cluster)."""
    protect: bool = True
    """Protect the databases and caches from deletion (`protect`, `retainOnDelete`). Omitted: protected."""
    callees: Mapping[str, ServicePeer] = {}
    """Every service a service of this team declares it calls, by the name it used. Omitted: none."""
    callers: Mapping[str, tuple[ServicePeer, ...]] = {}
    """For each service of this team, the services that declared calls to it. Omitted: none."""


class TeamEnvironment(pulumi.ComponentResource):
    """A team's services in one environment, with their databases, caches and flows."""

    services: dict[str, WebService]
    databases: dict[str, PostgresCluster]
    caches: dict[str, Redis]

    def __init__(self, name: str, args: TeamEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:tenancy:TeamEnvironment", name, None, opts)
        self.services, self.databases, self.caches = {}, {}, {}
        child = pulumi.ResourceOptions(parent=self)
        for svc in args.services:
            self.services[svc.name] = self._service(f"{name}-{svc.name}", svc, args, child)
        self.register_outputs({"services": list(self.services), "databases": list(self.databases),
                               "caches": list(self.caches)})

    def _service(self, name: str, svc: ServiceConfig, args: TeamEnvironmentArgs,
                 child: pulumi.ResourceOptions) -> WebService:
        ns = args.namespace
        client = ({labels.NAME: svc.name},)
        secret_env: list[SecretEnv] = []
        wait_for: list[pulumi.Resource] = []
        annotations: dict[str, Any] = {}
        if svc.database:
            db = self.databases[svc.name] = PostgresCluster(f"{name}-db", PostgresClusterArgs(
                config=args.postgres, namespace=ns.namespace, operator=args.postgres_operator,
                storage_class=args.storage_class, clients=client, monitoring_namespace=args.monitoring_namespace,
                secrets=args.secrets, crd_dependencies=(args.observability.release,), protect=args.protect,
                cluster_name=f"{svc.name}-db", database=svc.name.replace("-", "_")), child)
            secret_env.append(SecretEnv(env=DATABASE_ENV, secret_name=db.app_secret_name, key="uri"))
            wait_for.append(db.cluster)
        if svc.cache:
            cache = self.caches[svc.name] = Redis(f"{name}-cache", RedisArgs(
                config=args.redis, namespace=ns.namespace, secrets=args.secrets, storage_class=args.storage_class,
                clients=client, monitoring_namespace=args.monitoring_namespace, password_key=f"{svc.name}-cache",
                name=f"{svc.name}-cache", protect=args.protect), child)
            secret_env.append(SecretEnv(env=CACHE_ENV, secret_name=cache.url_secret_name, key=cache.url_secret_key))
            wait_for.append(cache.statefulset)
            annotations.update(cache.client_pod_annotations)
        pull = None
        if svc.image_pull_secret is not None:
            pull = args.secrets.external_secret(
                f"{name}-pull", namespace=ns.namespace, secret_name=f"{svc.name}-pull",
                data={".dockerconfigjson": SecretEntry(svc.image_pull_secret, ".dockerconfigjson",
                                                       generate_length=None)},
                template={".dockerconfigjson": '{{ index . ".dockerconfigjson" }}'},
                secret_type="kubernetes.io/dockerconfigjson", opts=child)
            wait_for.append(pull)
        self._calls(name, svc, args, child)
        env = svc.environments[args.environment]
        return WebService(name, WebServiceArgs(
            name=svc.name, namespace=ns, image=svc.image, version=version_label(svc.image), port=svc.port,
            gateway=args.gateway, hostname=env.hostname, paths=svc.paths, replicas=env.replicas,
            max_replicas=env.max_replicas,
            probes=Probes(liveness_path=svc.liveness_path, readiness_path=svc.readiness_path),
            config=dict(svc.env), secrets={var: SecretEntry(ref.key, ref.property) for var, ref in svc.secrets.items()},
            secret_store=args.secrets if svc.secrets else None, secret_env=tuple(secret_env),
            resources=svc.resources, run_as_user=svc.run_as_user, metrics_path=svc.metrics_path,
            spread_strictly=args.spread_strictly, image_pull_secret=f"{svc.name}-pull" if pull else None,
            pod_annotations=annotations, wait_for=tuple(wait_for), observability=args.observability), child)

    def _calls(self, name: str, svc: ServiceConfig, args: TeamEnvironmentArgs, child: pulumi.ResourceOptions) -> None:
        """The egress of `svc`'s calls, and the ingress into it from the services that call it."""
        ns = args.namespace.namespace.metadata.name
        opts = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[args.namespace.namespace]))
        egress = [{"to": [_pods(peer)], "ports": [{"port": peer.port, "protocol": "TCP"}]}
                  for peer in (args.callees[c] for c in svc.calls.services)]
        egress += [{"to": [{"ipBlock": {"cidr": ext.cidr}}], "ports": [{"port": ext.port, "protocol": "TCP"}]}
                   for ext in svc.calls.external]
        if egress:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-calls",
                metadata={"name": f"{svc.name}-calls", "namespace": ns, "labels": labels.common(svc.name, "network")},
                spec={"podSelector": {"matchLabels": {labels.NAME: svc.name}}, "policyTypes": ["Egress"],
                      "egress": egress}, opts=opts)
        if callers := args.callers.get(svc.name, ()):
            k8s.networking.v1.NetworkPolicy(
                f"{name}-from-callers",
                metadata={"name": f"{svc.name}-from-callers", "namespace": ns,
                          "labels": labels.common(svc.name, "network")},
                spec={"podSelector": {"matchLabels": {labels.NAME: svc.name}}, "policyTypes": ["Ingress"],
                      "ingress": [{"from": [_pods(c) for c in callers],
                                   "ports": [{"port": svc.port, "protocol": "TCP"}]}]}, opts=opts)


def _pods(peer: ServicePeer) -> dict:
    """A NetworkPolicy peer: the service's pods (stable and canary) in its namespace, selected by the
    name Kubernetes sets on the namespace (not copyable)."""
    return {"namespaceSelector": {"matchLabels": {labels.NAMESPACE_NAME: peer.namespace}},
            "podSelector": {"matchLabels": dict(peer.pod_labels)}}
