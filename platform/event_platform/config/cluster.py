"""`event-platform:cluster`: which cluster a stack targets, its Kubernetes version and storage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from event_platform.config.base import (
    DnsLabel,
    Model,
)

SUPPORTED_KUBERNETES_VERSIONS = ("1.32", "1.33", "1.34", "1.35", "1.36", "1.37")


class StorageClassConfig(Model):
    """A StorageClass the platform declares itself (named `cluster.storageClass`)."""

    provisioner: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(/[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$")
    """CSI driver, e.g. `ebs.csi.aws.com` (the EBS CSI driver add-on must be installed). Required."""
    parameters: dict[str, str] = Field(default_factory=dict)
    """Driver parameters, e.g. `{type: gp3, encrypted: "true"}`. Omitted: the driver's defaults."""
    reclaim_policy: Literal["Retain", "Delete"] = "Retain"
    """What happens to a volume when its claim is deleted. Omitted: Retain (the data outlives a mistake)."""


class ClusterConfig(Model):
    type: Literal["kind", "managed"]
    """`kind`: a local kind cluster (NodePort front door, local registry, single node). `managed`: a
    real cluster (LoadBalancer front door, replicated data). Required: nothing sensible to guess."""

    name: DnsLabel = "event-platform"
    """Cluster name; for kind also the name of the kind cluster the bring-up script creates.
    Omitted: `event-platform`."""

    kubernetes_version: Literal[SUPPORTED_KUBERNETES_VERSIONS] = "1.34"  # type: ignore[valid-type]
    """Minor version of the cluster's API server; manifests are validated against its schemas.
    Omitted: 1.34."""

    context: str = Field(min_length=1)
    """The kubeconfig context of the target cluster: every Kubernetes resource goes through one
    explicit provider built from it (the stack files disable Pulumi's default Kubernetes provider,
    which would follow whatever context is current). Required: a stack must name its cluster."""

    kubeconfig: str | None = None
    """Path of the kubeconfig file that holds `context`. Omitted: `$KUBECONFIG`, else `~/.kube/config`
    (the provider's own lookup)."""

    storage_class: DnsLabel | None = None
    """StorageClass for every PersistentVolumeClaim the platform declares. Omitted: the cluster's
    default class (kind's `standard`)."""

    declare_storage_class: StorageClassConfig | None = None
    """Declare `storage_class` as part of the platform. Omitted: it must exist in the cluster already
    (README, "Prod prerequisites")."""

    @model_validator(mode="after")
    def _declared_class_has_a_name(self) -> ClusterConfig:
        if self.declare_storage_class is not None and self.storage_class is None:
            raise ValueError("declareStorageClass is set but storageClass is not; expected storageClass to "
                             "name the class to declare")
        return self

