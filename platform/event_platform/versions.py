"""Every upstream version the platform installs, in one place.

To bump one: change it here, run `make test render` (Helm values are checked against the pinned
chart's own defaults and schema when the chart reference data is present), read the rendered diff,
and note the upstream release notes in the pull request. Python packages are pinned in
requirements.txt (the platform, the tests) and apps/collector/requirements.txt (the service image).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HelmChart:
    """A pinned Helm chart: where to get it and which version."""

    name: str
    """Chart name in the repository; also its folder in the chart reference data."""
    version: str
    repository: str
    """`https://` Helm repository, or `oci://` registry path (then the chart is `<repository>/<name>`)."""

    @property
    def is_oci(self) -> bool:
        return self.repository.startswith("oci://")

    @property
    def chart_ref(self) -> str:
        """What `helm install` takes as the chart: the name, or the full OCI reference."""
        return f"{self.repository}/{self.name}" if self.is_oci else self.name


KUBE_PROMETHEUS_STACK = HelmChart(
    "kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts")
LOKI = HelmChart("loki", "18.11.0", "https://grafana-community.github.io/helm-charts")
ALLOY = HelmChart("alloy", "1.11.1", "https://grafana.github.io/helm-charts")
CLOUDNATIVE_PG = HelmChart("cloudnative-pg", "0.29.0", "https://cloudnative-pg.github.io/charts")
EXTERNAL_SECRETS = HelmChart("external-secrets", "2.9.0", "https://charts.external-secrets.io")
NGINX_GATEWAY_FABRIC = HelmChart("nginx-gateway-fabric", "2.6.7", "oci://ghcr.io/nginx/charts")
CERT_MANAGER = HelmChart("cert-manager", "v1.21.1", "https://charts.jetstack.io")

GATEWAY_API_VERSION = "v1.5.1"
"""Gateway API standard-channel CRDs: the version NGINX Gateway Fabric 2.6.x supports. The CRDs
carry an admission policy that blocks downgrades, so raise this only together with the controller."""
GATEWAY_API_CRDS_URL = (
    f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{GATEWAY_API_VERSION}/standard-install.yaml")

POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.6-standard-bookworm"
"""Postgres server image for every CloudNativePG Cluster (PostgreSQL 17)."""
REDIS_IMAGE = "docker.io/library/redis:7.4.6-alpine"
"""Redis 7 server image of our own StatefulSet."""
COLLECTOR_BASE_IMAGE = "python:3.11.14-slim-bookworm"
"""Base image the collector's Dockerfile builds on (its BASE_IMAGE build argument)."""

ALL_CHARTS = (KUBE_PROMETHEUS_STACK, LOKI, ALLOY, CLOUDNATIVE_PG, EXTERNAL_SECRETS, NGINX_GATEWAY_FABRIC,
              CERT_MANAGER)
