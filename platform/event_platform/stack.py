"""`build(cfg)`: the one seam. `__main__.py` calls it under the Pulumi engine, tests and render call
it under mocks. It only wires components together; each component owns its own concern."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from event_platform.components.secrets import SecretStore, SecretStoreArgs
from event_platform.components.tenancy import PlatformNamespaceSpec, Tenancy, TenancyArgs
from event_platform.config import KubernetesStoreConfig, PlatformConfig


@dataclass(frozen=True)
class Platform:
    """What `build` declared, for exports and tests."""

    config: PlatformConfig
    tenancy: Tenancy
    secrets: SecretStore


def platform_namespaces(cfg: PlatformConfig) -> tuple[PlatformNamespaceSpec, ...]:
    """The platform's own namespaces, each at the least Pod Security level its pods work with."""
    names = cfg.namespaces.platform
    specs = [
        PlatformNamespaceSpec(name=names.gateway, purpose="NGINX Gateway Fabric and the platform Gateway",
                              pod_security="restricted"),
        PlatformNamespaceSpec(name=names.monitoring, pod_security="privileged",
                              purpose="Prometheus stack and log shipping; privileged because node-exporter "
                                      "uses the host's network/PID namespaces and Alloy reads pod logs "
                                      "from hostPath /var/log"),
        PlatformNamespaceSpec(name=names.databases, purpose="CloudNativePG operator"),
        PlatformNamespaceSpec(name=names.secrets, purpose="External Secrets Operator"),
    ]
    if cfg.gateway.tls is not None:
        specs.append(PlatformNamespaceSpec(name=names.cert_manager, purpose="cert-manager for the Gateway's TLS"))
    if isinstance(cfg.secrets.store, KubernetesStoreConfig):
        specs.append(PlatformNamespaceSpec(name=cfg.secrets.store.namespace,
                                           purpose="Source secrets read by the External Secrets store (no pods)"))
    return tuple(specs)


def build(cfg: PlatformConfig) -> Platform:
    """Declares the whole platform for one stack."""
    tenancy = Tenancy("tenancy", TenancyArgs(apps=cfg.namespaces.apps, platform=platform_namespaces(cfg)))
    store_ns = cfg.secrets.store.namespace if isinstance(cfg.secrets.store, KubernetesStoreConfig) else None
    secrets = SecretStore("secrets", SecretStoreArgs(
        config=cfg.secrets, namespace=tenancy.platform[cfg.namespaces.platform.secrets],
        store_namespace=tenancy.platform[store_ns] if store_ns else None))
    return Platform(config=cfg, tenancy=tenancy, secrets=secrets)


def outputs(platform: Platform) -> dict[str, Any]:
    """The stack outputs: what an operator needs after `pulumi up`."""
    return {
        "appNamespaces": list(platform.tenancy.apps),
        "platformNamespaces": list(platform.tenancy.platform),
        "secretStore": platform.secrets.store_name,
    }


def export(platform: Platform) -> None:
    for key, value in outputs(platform).items():
        pulumi.export(key, value)
