"""Typed stack configuration: what a `Pulumi.<stack>.yaml` may say, checked before anything is declared.

Each top-level key of the stack file under the `event-platform:` namespace maps to one section model,
in the module of its concern (keys are camelCase in YAML, snake_case in Python; every field documents
what happens when it is omitted):

| stack file key                         | model                    | module                   |
| -------------------------------------- | ------------------------ | ------------------------ |
| `event-platform:cluster`               | `ClusterConfig`          | `config/cluster.py`      |
| `event-platform:namespaces`            | `NamespacesConfig`       | `config/tenancy.py`      |
| `event-platform:gateway`               | `GatewayConfig`          | `config/gateway.py`      |
| `event-platform:observability`         | `ObservabilityConfig`    | `config/observability.py`|
| `event-platform:postgres`, `:redis`    | `PostgresConfig`, `RedisConfig` | `config/data.py`  |
| `event-platform:secrets`               | `SecretsConfig`          | `config/secrets.py`      |
| `event-platform:collector`             | `CollectorConfig`        | `config/collector.py`    |
| `...collector.environments.<env>.slo`  | `CollectorSloConfig`     | `config/slo.py`          |
| `event-platform:teams`                 | `TeamConfig`             | `config/tenancy.py`      |
| `...teams[].services[]`                | `ServiceConfig`          | `config/services.py`     |
| the whole stack, cross-section checks  | `PlatformConfig`         | `config/stack.py`        |

`config/base.py` holds what they are built from (the `Model` base, value types, `ResourcesConfig`);
`config/loading.py` reads a stack (`load_stack_file`, `from_pulumi`) and turns pydantic's errors into
one line per problem (`ConfigError`). Every public name is importable from `event_platform.config`.
"""

from event_platform.config.base import (
    PROJECT,
    ConfigError,
    DnsLabel,
    Duration,
    Hostname,
    ImageReference,
    Model,
    PlacedError,
    Quantity,
    ResourcesConfig,
    quantity_bytes,
)
from event_platform.config.cluster import SUPPORTED_KUBERNETES_VERSIONS, ClusterConfig, StorageClassConfig
from event_platform.config.collector import (
    CanaryConfig,
    CollectorConfig,
    CollectorEnvironmentConfig,
    CollectorImageConfig,
    ImagePlatform,
    RegistryConfig,
)
from event_platform.config.data import PostgresBackupConfig, PostgresConfig, RedisConfig
from event_platform.config.gateway import AWS_LB, GatewayConfig, TlsConfig
from event_platform.config.loading import from_mapping, from_pulumi, host_platform, load_stack_file
from event_platform.config.observability import (
    AlertReceiverConfig,
    LokiConfig,
    LokiS3Config,
    ObservabilityConfig,
    PrometheusConfig,
)
from event_platform.config.secrets import (
    AwsStoreConfig,
    KubernetesStoreConfig,
    SecretsConfig,
    SecretStoreConfig,
    VaultStoreConfig,
)
from event_platform.config.services import (
    ExternalCallConfig,
    RoutedEnvironmentConfig,
    ServiceCallsConfig,
    ServiceConfig,
    ServiceEnvironmentConfig,
    ServiceSecretConfig,
)
from event_platform.config.slo import (
    COLLECTOR_LATENCY_BUCKETS,
    FASTEST_BURN_RATE,
    CollectorSloConfig,
    LatencySloConfig,
    SloConfig,
)
from event_platform.config.stack import PlatformConfig
from event_platform.config.tenancy import (
    ENVIRONMENT_NAME_MAX,
    PLATFORM_TEAM,
    AppNamespaceConfig,
    LimitRangeConfig,
    NamespacesConfig,
    PlatformNamespacesConfig,
    ResourceQuotaConfig,
    TeamConfig,
    TeamEnvironmentConfig,
    team_namespace,
)

__all__ = [
    "AWS_LB",
    "COLLECTOR_LATENCY_BUCKETS",
    "ENVIRONMENT_NAME_MAX",
    "FASTEST_BURN_RATE",
    "PLATFORM_TEAM",
    "PROJECT",
    "SUPPORTED_KUBERNETES_VERSIONS",
    "AlertReceiverConfig",
    "AppNamespaceConfig",
    "AwsStoreConfig",
    "CanaryConfig",
    "ClusterConfig",
    "CollectorConfig",
    "CollectorEnvironmentConfig",
    "CollectorImageConfig",
    "CollectorSloConfig",
    "ConfigError",
    "DnsLabel",
    "Duration",
    "ExternalCallConfig",
    "GatewayConfig",
    "Hostname",
    "ImagePlatform",
    "ImageReference",
    "KubernetesStoreConfig",
    "LatencySloConfig",
    "LimitRangeConfig",
    "LokiConfig",
    "LokiS3Config",
    "Model",
    "NamespacesConfig",
    "ObservabilityConfig",
    "PlacedError",
    "PlatformConfig",
    "PlatformNamespacesConfig",
    "PostgresBackupConfig",
    "PostgresConfig",
    "PrometheusConfig",
    "Quantity",
    "RedisConfig",
    "RegistryConfig",
    "ResourceQuotaConfig",
    "ResourcesConfig",
    "RoutedEnvironmentConfig",
    "SecretStoreConfig",
    "SecretsConfig",
    "ServiceCallsConfig",
    "ServiceConfig",
    "ServiceEnvironmentConfig",
    "ServiceSecretConfig",
    "SloConfig",
    "StorageClassConfig",
    "TeamConfig",
    "TeamEnvironmentConfig",
    "TlsConfig",
    "VaultStoreConfig",
    "from_mapping",
    "from_pulumi",
    "host_platform",
    "load_stack_file",
    "quantity_bytes",
    "team_namespace",
]
