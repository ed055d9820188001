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

POSTGRES_IMAGE = ("ghcr.io/cloudnative-pg/postgresql:17.11-202608170816-system-bookworm"
                  "@sha256:d24d5a390d90b20a43ef7036981f5e6c6f78bbd3198a1e2cd99443fbbd14a9b8")
"""Postgres server image for every CloudNativePG Cluster: PostgreSQL 17.11, the `system` flavour
because only it carries the barman-cloud tools the in-tree backup (`barmanObjectStore`) runs
(`standard`/`minimal` are meant for the Barman Cloud plugin's sidecar). Tag and digest as listed in
cloudnative-pg/postgres-containers Debian/ClusterImageCatalog-bookworm.yaml (build of 2026-08-17)."""
REDIS_IMAGE = ("docker.io/library/redis:7.4.11-alpine"
               "@sha256:ff02b58f971e7d7d156a1267e283fcbbeee91773b6aa36c49dac28ecfe28eadf")
"""Redis 7 server image of our own StatefulSet (7.4.11: the 2026-08-18 security release), pinned by
digest so a re-pushed tag cannot change what runs (checkov CKV_K8S_43); the tag stays for readers.
The digest is the one public deployments pin for this tag; a bump re-resolves it with
`docker buildx imagetools inspect docker.io/library/redis:<tag>-alpine`."""
COLLECTOR_BASE_IMAGE = "python:3.11.14-slim-bookworm"
"""Base image the collector's Dockerfile builds on (its BASE_IMAGE build argument)."""

# The local path and CI (scripts/dev-cluster.sh and .github/workflows read these; docs/delivery.md).
KIND_VERSION = "v0.32.0"
"""The kind CLI the dev cluster is made with (CI installs exactly this; locally a different kind
only gets a warning). Node images are built per kind release: bump both together."""
KIND_NODE_IMAGE = ("kindest/node:v1.34.8"
                   "@sha256:02722c2dedddcfc00febf5d27fbeb9b7b2c14294c82109ff4a85d89ac9ba3256")
"""Node image of the dev kind cluster: Kubernetes 1.34, the dev stack's `kubernetesVersion`, as
listed in the kind v0.32.0 release notes (by digest, as kind asks)."""
LOCAL_REGISTRY_IMAGE = "docker.io/library/registry:3.0.0"
"""The dev cluster's local image registry (`kind-registry`, localhost:5001), as in kind's
local-registry guide."""
TEST_POSTGRES_IMAGE = "docker.io/library/postgres:17.11-bookworm"
"""Plain PostgreSQL server the collector's tests run against in GitHub Actions: the same release as
POSTGRES_IMAGE (whose CloudNativePG image has no standalone entrypoint). Redis tests use REDIS_IMAGE."""

ALL_CHARTS = (KUBE_PROMETHEUS_STACK, LOKI, ALLOY, CLOUDNATIVE_PG, EXTERNAL_SECRETS, NGINX_GATEWAY_FABRIC,
              CERT_MANAGER)
