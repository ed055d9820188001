"""Redis as a StatefulSet of our own: the story's stable-identity example. The pod is `redis-0`
wherever it is rescheduled, it finds its own volume (`data-redis-0`, from `volumeClaimTemplates`)
again, and a headless Service gives it a stable DNS name (`redis-0.redis-headless`).

It is the collector's cache of the recent-events window, so it evicts (allkeys-lru) instead of
refusing writes, and persists by snapshots only. The password lives in the secret store; an
ExternalSecret turns it into the Secret both Redis and its clients read (`url_secret_name`).

Rotation: Redis reads its password at start, the collector its URL at start. Redis accepts two
passwords (the store's `password` and `previous-password`), clients connect with `password`, and the
Secret's name carries the rotation count (`RedisConfig.password_rotation`). Raising the count makes a
new Secret; Redis's StatefulSet rolls onto it first (accepting the new and the old password, so the
collector's running pods keep working), and only when it is ready does the collector's Deployment,
which depends on it, roll onto the new URL. Pods never start before their Secret exists.
"""

from __future__ import annotations

import hashlib
import math

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels, versions
from event_platform.components.network import allow_clients
from event_platform.components.secrets import SecretEntry, SecretStore
from event_platform.config.base import quantity_bytes
from event_platform.config.data import RedisConfig

REDIS_PORT = 6379
REDIS_UID = 10001
"""A UID no host account has (checkov CKV_K8S_40: a container escaping as 999 could own a host
service's files). The image's own `redis` user (999) is not needed: the container runs redis-server
directly (no entrypoint that switches users), its root filesystem is read-only, and /data is writable
through `fsGroup`."""
REDIS_GID = 1000
"""The image's `redis` group; also the volume's group (`fsGroup`), so snapshots written by an earlier
UID stay readable and replaceable."""
CONFIG_DIR = "/etc/redis"
AUTH_DIR = "/etc/redis-auth"
AUTH_FILE = "auth.conf"
"""Key of the auth Secret holding the `user default` ACL line with both accepted passwords, which
redis.conf includes: the password reaches Redis neither through the ConfigMap nor on its command line."""
PREVIOUS_PASSWORD = "previous-password"
"""Store property of the password Redis still accepts during a rotation (set it to the old value
before putting a new `password`; set it equal to `password` afterwards to retire the old one)."""


class RedisArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: RedisConfig
    """Volume size and maxmemory."""
    namespace: k8s.core.v1.Namespace
    """The app environment's namespace."""
    secrets: SecretStore
    """Where the password comes from."""
    storage_class: str | None
    """StorageClass of the pod's volume. None: the cluster's default class."""
    clients: tuple[dict[str, str], ...] = ()
    """Pod label sets (same namespace) allowed to connect; each gets the ingress into Redis and the
    egress out of its own pods. Omitted: nobody."""
    monitoring_namespace: str
    """Where Prometheus runs. Unused until Redis gets an exporter; kept so the interface matches the
    database's."""
    password_key: str = "redis"
    """Entry in the secret store whose `password` property is this Redis's password (also a Secret
    name in the dev store: a DNS label). Omitted: `redis`."""
    name: str = "redis"
    """Name of the StatefulSet and client Service. Omitted: `redis`."""
    protect: bool = False
    """Protect the StatefulSet from deletion and replacement (Pulumi `protect`, `retainOnDelete`).
    Omitted: unprotected."""


class Redis(pulumi.ComponentResource):
    """ConfigMap, auth ExternalSecret, headless + client Services, StatefulSet, NetworkPolicies."""

    service_name: str
    """The client Service (ClusterIP) apps connect to."""
    headless_service_name: str
    """The governing headless Service of the StatefulSet (stable per-pod DNS names)."""
    port: int = REDIS_PORT
    url_secret_name: str
    """Secret produced by the ExternalSecret: keys `url` (redis://:<password>@<service>.<ns>.svc:6379/0),
    `password` and `auth.conf`."""
    url_secret_key: str = "url"
    client_pod_annotations: dict[str, str]
    """Put these on the clients' pod templates: they change with each rotation (the Secret name does
    too), so a rotation rolls the clients after Redis."""
    pod_labels: dict[str, str]
    """Labels selecting the Redis pod."""
    statefulset: k8s.apps.v1.StatefulSet
    external_secret: k8s.apiextensions.CustomResource
    config_map: k8s.core.v1.ConfigMap

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:data:Redis", name, None, opts)
        self._name = name
        app = args.name
        self.service_name = app
        self.headless_service_name = f"{app}-headless"
        self.port = REDIS_PORT
        rotation = args.config.password_rotation
        self.url_secret_name = f"{app}-auth" + (f"-r{rotation}" if rotation else "")
        self.client_pod_annotations = {"event-platform.io/redis-password-rotation": str(rotation)}
        self.url_secret_key = "url"
        self.pod_labels = {labels.NAME: app, labels.COMPONENT: "cache"}
        namespace = args.namespace
        ns = namespace.metadata.name
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        meta_labels = labels.common(app, "cache")

        self.external_secret = args.secrets.external_secret(
            f"{name}-auth", namespace=namespace, secret_name=self.url_secret_name,
            data={"password": SecretEntry(args.password_key, "password"),
                  "previous": SecretEntry(args.password_key, PREVIOUS_PASSWORD)},
            template={
                # The dev store generates alphanumerics; a real vault's value must be URL-safe too.
                "url": ns.apply(lambda n: f"redis://:{{{{ .password }}}}@{app}.{n}.svc:{REDIS_PORT}/0"),
                "password": "{{ .password }}",
                AUTH_FILE: auth_conf_template(),
            },
            opts=pulumi.ResourceOptions(parent=self))

        conf = redis_conf(args.config)
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": f"{app}-config", "namespace": ns, "labels": meta_labels},
            data={"redis.conf": conf}, opts=in_ns)

        ports = [{"name": "redis", "port": REDIS_PORT, "targetPort": "redis", "protocol": "TCP"}]
        self.headless_service = k8s.core.v1.Service(
            f"{name}-headless",
            metadata={"name": self.headless_service_name, "namespace": ns, "labels": meta_labels},
            spec={"clusterIP": "None", "selector": dict(self.pod_labels), "ports": ports}, opts=in_ns)
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": self.service_name, "namespace": ns, "labels": meta_labels},
            spec={"type": "ClusterIP", "selector": dict(self.pod_labels), "ports": ports}, opts=in_ns)

        claim_spec: dict = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": args.config.storage_size}}}
        if args.storage_class:
            claim_spec["storageClassName"] = args.storage_class
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": app, "namespace": ns, "labels": meta_labels},
            spec={
                "serviceName": self.headless_service_name,
                # One instance: a cache whose loss costs misses, not data. Replicas would need
                # Sentinel or cluster mode for failover; the collector falls back to Postgres instead.
                "replicas": 1,
                "selector": {"matchLabels": dict(self.pod_labels)},
                "updateStrategy": {"type": "RollingUpdate"},
                # Deleting or scaling down the StatefulSet keeps the volume: stable identity includes
                # getting the same disk back.
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "template": {
                    "metadata": {"labels": {**meta_labels, **self.pod_labels},
                                 # A changed redis.conf rolls the pod (Redis reads it only at start).
                                 "annotations": {"checksum/config": hashlib.sha256(conf.encode()).hexdigest(),
                                                 **self.client_pod_annotations}},
                    "spec": pod_spec(args.config, self.url_secret_name, f"{app}-config"),
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data", "labels": meta_labels},
                    "spec": claim_spec,
                }],
            },
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect, depends_on=[
                namespace, self.config_map, self.external_secret, self.headless_service]))

        # Clients in, nothing else: Redis itself opens no connection (DNS aside, which tenancy allows).
        self.network_policies = allow_clients(
            name, namespace=ns, server_name=app, server_pods=self.pod_labels, clients=args.clients,
            port=REDIS_PORT, opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]))
        self.register_outputs({"service_name": self.service_name, "url_secret_name": self.url_secret_name,
                               "client_pod_annotations": self.client_pod_annotations,
                               "statefulset": self.statefulset.metadata.name})


def auth_conf_template() -> str:
    """The ESO template of the included auth file: the default user, reset, then both passwords (a
    duplicate is harmless), all keys, channels and commands, as `requirepass` would give."""
    return "user default on resetpass >{{ .password }} >{{ .previous }} ~* &* +@all\n"


def redis_conf(cfg: RedisConfig) -> str:
    """redis.conf: a bounded, evicting cache that snapshots to its volume."""
    return "\n".join([
        "# Written by the event platform (platform/event_platform/components/redis.py).",
        f"port {REDIS_PORT}",
        "bind * -::*",
        "protected-mode yes",
        "dir /data",
        f"maxmemory {quantity_bytes(cfg.max_memory)}",
        # A cache: when full, drop the least recently used key instead of failing writes.
        "maxmemory-policy allkeys-lru",
        # Snapshots, no append-only file: a crash loses at most a few minutes of cache, which the
        # collector refills from Postgres; fsyncing every write would buy nothing here.
        "appendonly no",
        "save 3600 1 300 100 60 10000",
        # A failed snapshot (full disk) must not turn the cache read-only.
        "stop-writes-on-bgsave-error no",
        'logfile ""',
        f"include {AUTH_DIR}/{AUTH_FILE}",
        "",
    ])


def container_resources(cfg: RedisConfig) -> dict:
    """Requests a quarter above maxmemory (Redis's own overhead), limit twice maxmemory: a snapshot
    forks, and copy-on-write can duplicate every page written while it runs."""
    mib = 2**20
    maxmemory = quantity_bytes(cfg.max_memory)
    return {"requests": {"cpu": "50m", "memory": f"{math.ceil(maxmemory * 1.25 / mib)}Mi"},
            "limits": {"memory": f"{math.ceil(maxmemory * 2 / mib)}Mi"}}


def pod_spec(cfg: RedisConfig, auth_secret: str, config_map: str) -> dict:
    # REDISCLI_AUTH: redis-cli's own variable, so the probe authenticates without the password on a
    # command line.
    ping = {"exec": {"command": ["sh", "-c", f"redis-cli -h 127.0.0.1 -p {REDIS_PORT} ping | grep -qx PONG"]}}
    tcp = {"tcpSocket": {"port": "redis"}}
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 30,
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": REDIS_UID, "runAsGroup": REDIS_GID, "fsGroup": REDIS_GID,
            "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "redis",
            "image": versions.REDIS_IMAGE,
            "imagePullPolicy": "IfNotPresent",
            "command": ["redis-server", f"{CONFIG_DIR}/redis.conf"],
            "ports": [{"name": "redis", "containerPort": REDIS_PORT, "protocol": "TCP"}],
            "env": [{"name": "REDISCLI_AUTH",
                     "valueFrom": {"secretKeyRef": {"name": auth_secret, "key": "password"}}}],
            "resources": container_resources(cfg),
            "startupProbe": {**tcp, "periodSeconds": 2, "failureThreshold": 60},
            # TCP, not PING: a Redis loading a large snapshot answers LOADING and must not be killed.
            "livenessProbe": {**tcp, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3},
            "readinessProbe": {**ping, "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 2},
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [
                {"name": "data", "mountPath": "/data"},
                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                {"name": "auth", "mountPath": AUTH_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }],
        "volumes": [
            {"name": "config", "configMap": {"name": config_map}},
            {"name": "auth", "secret": {"secretName": auth_secret, "defaultMode": 0o440,
                                        "items": [{"key": AUTH_FILE, "path": AUTH_FILE}]}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ],
    }
