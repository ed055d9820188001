"""One app environment's database: a CloudNativePG `Cluster` (the story's "stateful pieces need
stable identity and disks", with the operator doing failover, replicas and backups), its PodMonitor,
its optional daily backup, and exactly the network flows its pods need in a default-deny namespace.

The operator, not Pulumi, creates the `<cluster>-rw` Service and the `<cluster>-app` Secret once it
has reconciled the Cluster. Apps therefore refer to them by name and key (`rw_service`,
`app_secret_name`), never through Pulumi outputs that would not exist at `pulumi up` time.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels, versions
from event_platform.components.network import Peer, allow_clients, allow_egress, allow_ingress
from event_platform.components.postgres import PostgresOperator
from event_platform.components.secrets import SecretEntry, SecretStore
from event_platform.config.base import quantity_bytes
from event_platform.config.data import PostgresBackupConfig, PostgresConfig

CNPG_API = "postgresql.cnpg.io/v1"
CLUSTER_LABEL = "cnpg.io/cluster"
"""Label CloudNativePG puts on every pod of a Cluster (instances and their bootstrap/join jobs)."""
POSTGRES_PORT = 5432
STATUS_PORT = 8000
"""The instance manager's status endpoint: the operator polls it, and a primary checks its peers
through it before deciding it is isolated."""
METRICS_PORT = 9187
"""The instance manager's Prometheus exporter (container port name `metrics`)."""
API_SERVER_PORTS = (443, 6443)
"""The `kubernetes` Service port, and the API server's own port it is translated to before network
policies see the packet (kind, kubeadm, most managed clusters)."""
PROMETHEUS_POD_LABELS = {labels.NAME: "prometheus"}
"""The Prometheus Operator labels every Prometheus pod it runs with this."""
APP_SECRET_KEYS = frozenset({"username", "user", "password", "dbname", "host", "port", "pgpass",
                             "uri", "jdbc-uri", "fqdn-uri", "fqdn-jdbc-uri"})
"""Keys of the `<cluster>-app` Secret the operator generates (cloudnative-pg pkg/specs/secrets.go,
CloudNativePG 1.30): the one place apps and tests take them from."""
BACKUP_KEYS = ("ACCESS_KEY_ID", "ACCESS_SECRET_KEY")
"""Properties of the backup credentials entry in the secret store, also the keys of the Secret."""


READY_AWAIT = {"pulumi.com/waitFor": "condition=Ready", "pulumi.com/timeoutSeconds": "1200"}
"""`pulumi up` holds the Cluster (and whatever depends on it: its clients' Deployments) until the
operator reports the `Ready` condition (cloudnative-pg api/v1/cluster_types.go: ConditionClusterReady =
"Ready"); syntax as in pulumi-kubernetes tests/sdk/nodejs/testdata/await/generic/index.ts. 20 minutes:
a first bring-up on a laptop pulls the Postgres image and runs initdb."""


class PostgresClusterArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: PostgresConfig
    """Instances, storage, resources, backups (stack-wide; one Cluster per environment)."""
    namespace: k8s.core.v1.Namespace
    """The app environment's namespace."""
    operator: PostgresOperator
    """The operator; the Cluster is declared only after its release is ready."""
    storage_class: str | None
    """StorageClass of the instances' volumes. None: the cluster's default class."""
    clients: tuple[dict[str, str], ...] = ()
    """Pod label sets (in the same namespace) allowed to connect on 5432; each gets the ingress
    into the database pods and the egress out of its own pods. Omitted: nobody."""
    monitoring_namespace: str
    """Namespace whose Prometheus scrapes the instances' metrics port."""
    secrets: SecretStore | None = None
    """Where the backup credentials come from. Required when `config.backup` is set."""
    crd_dependencies: tuple[pulumi.Resource, ...] = ()
    """What installs the `monitoring.coreos.com` CRDs (the observability release); the PodMonitor
    waits for it. Omitted: nothing to wait for."""
    protect: bool = False
    """Protect the Cluster from deletion and replacement, and keep it if Pulumi deletes it (its PVCs
    are owned by it, so deleting it deletes the data). Omitted: unprotected."""
    cluster_name: str = "events-db"
    """metadata.name of the Cluster, prefix of everything the operator derives from it.
    Omitted: `events-db`."""
    database: str = "events"
    """The database initdb creates, owned by `app` (the `-app` Secret's `dbname`). Omitted: `events`."""


class PostgresCluster(pulumi.ComponentResource):
    """A CloudNativePG Cluster with database `events` owned by `app`, and what it needs around it."""

    cluster_name: str
    """Name of the Cluster."""
    rw_service: str
    """The operator's read-write Service (always points at the primary)."""
    app_secret_name: str
    """The operator-generated Secret of the `app` user, with the keys in `APP_SECRET_KEYS`."""
    database: str = "events"
    port: int = POSTGRES_PORT
    pod_labels: dict[str, str]
    """Labels of every pod of this Cluster."""
    cluster: k8s.apiextensions.CustomResource
    pod_monitor: k8s.apiextensions.CustomResource
    scheduled_backup: k8s.apiextensions.CustomResource | None
    """The daily base backup; None without `config.backup`."""
    network_policies: list[k8s.networking.v1.NetworkPolicy]

    def __init__(self, name: str, args: PostgresClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:data:PostgresCluster", name, None, opts)
        self._name = name
        cfg = args.config
        self.cluster_name = args.cluster_name
        self.rw_service = f"{self.cluster_name}-rw"
        self.app_secret_name = f"{self.cluster_name}-app"
        self.database = args.database
        self.port = POSTGRES_PORT
        self.pod_labels = {CLUSTER_LABEL: self.cluster_name}
        namespace = args.namespace
        ns = namespace.metadata.name

        backup_secret = None
        if cfg.backup is not None:
            if args.secrets is None:
                raise ValueError("backups need the secret store for their object-storage credentials")
            backup_secret = args.secrets.external_secret(
                f"{name}-backup-credentials", namespace=namespace,
                secret_name=f"{self.cluster_name}-backup-s3",
                # Not generated: only the object store's owner can issue these (a real vault).
                data={key: SecretEntry(cfg.backup.credentials_secret_key, key, generate_length=None)
                      for key in BACKUP_KEYS},
                opts=pulumi.ResourceOptions(parent=self))

        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version=CNPG_API, kind="Cluster",
            metadata={"name": self.cluster_name, "namespace": ns,
                      "labels": labels.common(self.cluster_name, "database"), "annotations": READY_AWAIT},
            spec=cluster_spec(cfg, args.storage_class, ns, database=args.database,
                              backup_secret_name=f"{self.cluster_name}-backup-s3" if backup_secret else None),
            # The operator's admission webhook must answer before a Cluster can be created; on a fresh
            # cluster it races the CRDs. `pulumi up` waits for the release's workloads (the operator
            # Deployment ready), so depending on it means "the operator is up", not merely "installed".
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect,
                                        depends_on=[args.operator.release, namespace,
                                                    *([backup_secret] if backup_secret else [])]))

        self.pod_monitor = k8s.apiextensions.CustomResource(
            f"{name}-pod-monitor",
            api_version="monitoring.coreos.com/v1", kind="PodMonitor",
            metadata={"name": self.cluster_name, "namespace": ns, "labels": {
                **labels.common(self.cluster_name, "database"),
                # kube-prometheus-stack is configured to select monitors from every namespace
                # whatever their labels; the release label keeps them selected with its defaults too.
                "release": versions.KUBE_PROMETHEUS_STACK.name}},
            # What CloudNativePG's monitoring docs recommend instead of the deprecated
            # `.spec.monitoring.enablePodMonitor`.
            spec={"selector": {"matchLabels": dict(self.pod_labels)},
                  "podMetricsEndpoints": [{"port": "metrics"}]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.crd_dependencies]))

        self.scheduled_backup = None
        if cfg.backup is not None:
            self.scheduled_backup = k8s.apiextensions.CustomResource(
                f"{name}-scheduled-backup",
                api_version=CNPG_API, kind="ScheduledBackup",
                metadata={"name": f"{self.cluster_name}-daily", "namespace": ns,
                          "labels": labels.common(self.cluster_name, "database")},
                spec={"schedule": cfg.backup.schedule, "cluster": {"name": self.cluster_name},
                      "method": "barmanObjectStore",
                      # A base backup right away: WAL archived before the first base backup restores nothing.
                      "immediate": True,
                      "backupOwnerReference": "self"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]))

        self.network_policies = self._network_policies(args, ns)
        self.register_outputs({"cluster_name": self.cluster_name, "rw_service": self.rw_service,
                               "app_secret_name": self.app_secret_name, "database": self.database})

    def _network_policies(self, args: PostgresClusterArgs,
                          ns: pulumi.Output[str]) -> list[k8s.networking.v1.NetworkPolicy]:
        """Every flow the Cluster's pods take part in (CloudNativePG docs, "Networking" and
        "Security: Exposed Ports"), on top of the namespace's default deny."""
        c, pods = self.cluster_name, self.pod_labels
        opts = pulumi.ResourceOptions(parent=self, depends_on=[args.namespace])
        itself = Peer(pod_labels=pods)
        policies = [
            allow_ingress(f"{self._name}-from-operator", namespace=ns, policy_name=f"{c}-from-operator",
                          # the operator's namespace is an Output; Pulumi resolves it inside the policy's inputs
                          to_pods=pods, sources=[Peer(cast(str, args.operator.namespace), args.operator.pod_labels)],
                          ports=[STATUS_PORT, POSTGRES_PORT], opts=opts),
            # Streaming replication, replica bootstrap (pg_basebackup) and the primary's isolation check.
            allow_ingress(f"{self._name}-from-instances", namespace=ns, policy_name=f"{c}-from-instances",
                          to_pods=pods, sources=[itself], ports=[POSTGRES_PORT, STATUS_PORT], opts=opts),
            allow_egress(f"{self._name}-to-instances", namespace=ns, policy_name=f"{c}-to-instances",
                         from_pods=pods, destinations=[itself], ports=[POSTGRES_PORT, STATUS_PORT], opts=opts),
            # The instance manager reports status and reads its Secrets/ConfigMaps through the API
            # server, whose address a NetworkPolicy cannot name.
            allow_egress(f"{self._name}-to-api-server", namespace=ns, policy_name=f"{c}-to-api-server",
                         from_pods=pods, destinations=None, ports=list(API_SERVER_PORTS), opts=opts),
            allow_ingress(f"{self._name}-from-prometheus", namespace=ns, policy_name=f"{c}-from-prometheus",
                          to_pods=pods, sources=[Peer(args.monitoring_namespace, PROMETHEUS_POD_LABELS)],
                          ports=[METRICS_PORT], opts=opts),
        ]
        if args.config.backup is not None:
            policies.append(allow_egress(
                f"{self._name}-to-object-storage", namespace=ns, policy_name=f"{c}-to-object-storage",
                from_pods=pods, destinations=None, ports=[object_storage_port(args.config.backup)], opts=opts))
        policies += allow_clients(self._name, namespace=ns, server_name=c, server_pods=pods, clients=args.clients,
                                  port=POSTGRES_PORT, opts=opts)
        return policies


def cluster_spec(cfg: PostgresConfig, storage_class: str | None, namespace: pulumi.Input[str],
                 backup_secret_name: str | None, database: str = "events") -> dict:
    """The Cluster's spec (fields of postgresql.cnpg.io/v1 Cluster, CloudNativePG 1.30)."""
    storage: dict = {"size": cfg.storage_size}
    if storage_class:
        storage["storageClass"] = storage_class
    postgresql: dict = {"parameters": postgres_parameters(cfg)}
    if cfg.instances > 1:
        # A commit returns once one standby has it too, unless no standby is up (`preferred`):
        # a lost primary loses no acknowledged write, and a lost standby stops no write.
        postgresql["synchronous"] = {"method": "any", "number": 1, "dataDurability": "preferred"}
    spec: dict = {
        "instances": cfg.instances,
        "imageName": versions.POSTGRES_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        # The operator's PDB keeps the primary up during drains; with a single instance it would
        # block every node drain instead.
        "enablePDB": cfg.instances > 1,
        "inheritedMetadata": {"labels": {labels.PART_OF: labels.PLATFORM}},
        "bootstrap": {"initdb": {
            "database": database,
            # The owner gets the operator-generated `<cluster>-app` Secret the app reads.
            "owner": "app",
            "dataChecksums": True,
        }},
        "postgresql": postgresql,
        "storage": storage,
        "resources": cfg.resources.as_kubernetes(),
        "affinity": {"enablePodAntiAffinity": True, "topologyKey": "kubernetes.io/hostname",
                     "podAntiAffinityType": cfg.pod_anti_affinity},
    }
    if cfg.backup is not None and backup_secret_name is not None:
        spec["backup"] = backup_spec(cfg.backup, namespace, backup_secret_name)
    return spec


def postgres_parameters(cfg: PostgresConfig) -> dict[str, str]:
    """postgresql.conf settings sized from the container's memory."""
    mib = 2**20
    request = quantity_bytes(cfg.resources.memory) // mib
    limit = quantity_bytes(cfg.resources.memory_limit or cfg.resources.memory) // mib
    return {
        "max_connections": "100",
        # A quarter of the guaranteed memory: the usual starting point; the page cache does the rest.
        "shared_buffers": f"{max(request // 4, 32)}MB",
        "effective_cache_size": f"{max(limit // 2, 64)}MB",
        "work_mem": "4MB",
        "maintenance_work_mem": f"{max(request // 16, 16)}MB",
        # Setting a pg_stat_statements parameter makes the operator load and create the extension.
        "pg_stat_statements.max": "1000",
        "pg_stat_statements.track": "top",
        "log_min_duration_statement": "1s",
        "timezone": "UTC",
    }


def backup_spec(backup: PostgresBackupConfig, namespace: pulumi.Input[str], secret_name: str) -> dict:
    """Continuous WAL archiving and base backups with CloudNativePG's in-tree Barman Cloud support
    (deprecated since 1.26, still served in 1.30 and removed in 1.31: see docs/data-and-secrets.md)."""
    store: dict = {
        # One folder per environment: every environment's Cluster has the same name, and two
        # Clusters archiving into one folder would corrupt each other's WAL archive.
        "destinationPath": pulumi.Output.from_input(namespace).apply(
            lambda ns: f"{backup.destination_path.rstrip('/')}/{ns}"),
        "s3Credentials": {
            "accessKeyId": {"name": secret_name, "key": "ACCESS_KEY_ID"},
            "secretAccessKey": {"name": secret_name, "key": "ACCESS_SECRET_KEY"},
        },
        "wal": {"compression": "gzip", "maxParallel": 2},
        "data": {"compression": "gzip"},
    }
    if backup.endpoint_url:
        store["endpointURL"] = backup.endpoint_url
    return {"retentionPolicy": backup.retention, "target": "prefer-standby", "barmanObjectStore": store}


def object_storage_port(backup: PostgresBackupConfig) -> int:
    """The port the backups connect to: the endpoint's own, else HTTPS."""
    if not backup.endpoint_url:
        return 443
    url = urlparse(backup.endpoint_url)
    return url.port or (80 if url.scheme == "http" else 443)
