"""`event-platform:secrets`: the secret store every ExternalSecret reads from
(components/secrets.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from event_platform.config.base import (
    DnsLabel,
    Model,
)


class KubernetesStoreConfig(Model):
    """Secrets read from a platform-owned namespace of the same cluster (dev: no cloud account).
    The platform seeds that namespace with generated random values."""

    provider: Literal["kubernetes"]
    namespace: DnsLabel = "platform-secrets"
    """Namespace that holds the source Secrets. Omitted: `platform-secrets`."""


class VaultStoreConfig(Model):
    """HashiCorp Vault, KV v2, Kubernetes auth."""

    provider: Literal["vault"]
    server: str = Field(pattern=r"^https?://")
    path: str = "secret"
    """KV v2 mount. Omitted: `secret`."""
    role: str = "external-secrets"
    """Vault Kubernetes-auth role. Omitted: `external-secrets`."""


class AwsStoreConfig(Model):
    """AWS Secrets Manager, with the operator's service account assuming an IAM role (IRSA)."""

    provider: Literal["aws"]
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$")
    """Role annotated on the operator's service account."""


SecretStoreConfig = Annotated[
    KubernetesStoreConfig | VaultStoreConfig | AwsStoreConfig, Field(discriminator="provider")
]


class SecretsConfig(Model):
    store: SecretStoreConfig
    """Where secret values live. Required: the choice is the stack's."""
    key_prefix: str = ""
    """Prefix of every entry name in the store, e.g. `prod/`. Omitted: none."""

