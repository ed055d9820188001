"""`event-platform:observability`: Prometheus, Loki, Grafana's hostname and where alerts go
(components/observability.py). The SLOs are per service: config/slo.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from event_platform.config.base import (
    DnsLabel,
    Duration,
    Hostname,
    Model,
    Quantity,
    ResourcesConfig,
)


class PrometheusConfig(Model):
    retention: Duration = "7d"
    """How long samples are kept. Omitted: 7d."""
    storage_size: Quantity = "10Gi"
    """Size of Prometheus's volume. Omitted: 10Gi."""
    resources: ResourcesConfig = ResourcesConfig(cpu="200m", memory="1Gi", memory_limit="2Gi")
    """Omitted: 200m CPU, 1Gi memory (2Gi limit)."""


class LokiS3Config(Model):
    """Object storage for Loki's chunks and index (prod). Credentials never come from here: Loki's
    service account assumes `role_arn` (IRSA), or the node's own role when that is omitted."""

    bucket: str
    region: str
    endpoint: str | None = None
    """Omitted: the AWS endpoint for the region."""
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$")
    """IAM role annotated on Loki's service account (IRSA). Omitted: no annotation; the AWS SDK's
    default chain (e.g. the node's instance role) must grant the bucket."""


class LokiConfig(Model):
    retention: Duration = "7d"
    """How long logs are kept. Omitted: 7d."""
    storage_size: Quantity = "10Gi"
    """Size of Loki's volume (all data with filesystem storage, WAL and cache with S3). Omitted: 10Gi."""
    s3: LokiS3Config | None = None
    """Omitted: filesystem storage on Loki's own volume (fine for dev, not for prod)."""
    resources: ResourcesConfig = ResourcesConfig(cpu="100m", memory="256Mi", memory_limit="1Gi")
    """Of the single Loki process. Omitted: 100m CPU, 256Mi memory (1Gi limit)."""

    @model_validator(mode="after")
    def _whole_days(self) -> LokiConfig:
        # Loki deletes whole index tables (24h each): retention must be a multiple of a day.
        unit = self.retention.lstrip("0123456789")
        amount = int(self.retention.removesuffix(unit))
        hours = amount * {"ms": 0, "s": 0, "m": 0, "h": 1, "d": 24, "w": 168, "y": 8760}[unit]
        if unit in ("ms", "s", "m") or hours == 0 or hours % 24:
            raise ValueError(f"loki.retention {self.retention}: expected whole days, e.g. 7d, 14d or 2w")
        return self


class AlertReceiverConfig(Model):
    """Where Alertmanager sends alerts. The URL is a secret held in the secret store under
    `secret_key`, never in the stack file."""

    name: DnsLabel
    type: Literal["slack", "webhook"]
    secret_key: str
    """Name of the entry in the secret store that holds the webhook URL."""
    secret_property: str = "url"
    """Property of that entry holding the URL. Omitted: `url`."""


class ObservabilityConfig(Model):
    prometheus: PrometheusConfig = PrometheusConfig()
    loki: LokiConfig = LokiConfig()
    grafana_hostname: Hostname | None = None
    """Omitted: `grafana.<gateway.domain>`."""
    alert_receivers: tuple[AlertReceiverConfig, ...] = ()
    """Omitted: alerts are visible in Alertmanager's UI only."""

