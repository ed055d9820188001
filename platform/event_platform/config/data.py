"""`event-platform:postgres` and `event-platform:redis`: each environment's database cluster, its
backups, and the cache (components/postgres_cluster.py, redis.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from event_platform.config.base import (
    Model,
    Quantity,
    ResourcesConfig,
)


class PostgresBackupConfig(Model):
    """Continuous backup (WAL archive + base backups) to S3-compatible object storage."""

    destination_path: str = Field(pattern=r"^s3://")
    """e.g. s3://backups/event-platform. Required when backups are on."""
    endpoint_url: str | None = None
    """Omitted: AWS S3."""
    credentials_secret_key: str = "postgres-backup"
    """Entry in the secret store with ACCESS_KEY_ID and ACCESS_SECRET_KEY. Omitted: `postgres-backup`."""
    retention: str = Field(default="30d", pattern=r"^[1-9][0-9]*[dwm]$")
    """How long backups are kept. Omitted: 30d."""
    schedule: str = Field(default="0 0 3 * * *", pattern=r"^\S+( \S+){5}$")
    """When the daily base backup runs: CloudNativePG's six-field cron, seconds first.
    Omitted: 03:00 every day."""


class PostgresConfig(Model):
    instances: int = Field(default=1, ge=1, le=9)
    """Postgres instances per app environment (1 primary + replicas). Omitted: 1."""
    storage_size: Quantity = "5Gi"
    """Volume per instance. Omitted: 5Gi."""
    resources: ResourcesConfig = ResourcesConfig(cpu="250m", memory="512Mi", memory_limit="1Gi")
    backup: PostgresBackupConfig | None = None
    """Omitted: no backups (dev)."""
    pod_anti_affinity: Literal["preferred", "required"] = "preferred"
    """Whether two instances of one cluster may share a node: `required` never (an instance stays
    Pending until a node is free), `preferred` only when no other node has room. Omitted: preferred
    (a one-node kind cluster)."""


class RedisConfig(Model):
    storage_size: Quantity = "1Gi"
    """Volume per Redis pod. Omitted: 1Gi."""
    max_memory: Quantity = "256Mi"
    """Redis's own `maxmemory`; the container limit gets headroom above it. Omitted: 256Mi."""
    password_rotation: int = Field(default=0, ge=0)
    """How many times the password was rotated (docs/data-and-secrets.md, "Rotating the Redis
    password"): raising it rolls Redis, then the collector, onto the store's current password.
    Omitted: 0 (never rotated)."""

