"""The StorageClass the stack's volumes use, when the stack asks the platform to declare it (a stock
EKS cluster has only `gp2`, so `storageClass: gp3` alone leaves every claim Pending)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels
from event_platform.config.cluster import StorageClassConfig


class StorageClassArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """metadata.name: the `cluster.storageClass` every claim names."""
    config: StorageClassConfig
    """Provisioner and its parameters."""


class StorageClass(pulumi.ComponentResource):
    """One StorageClass. Volumes are kept when their claim goes (`Retain`) and bound where the pod
    lands (`WaitForFirstConsumer`, so a zonal disk is made in the zone of its node)."""

    storage_class: k8s.storage.v1.StorageClass

    def __init__(self, name: str, args: StorageClassArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:cluster:StorageClass", name, None, opts)
        cfg = args.config
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-class",
            metadata={"name": args.name, "labels": labels.common(args.name, "storage")},
            provisioner=cfg.provisioner,
            parameters=dict(cfg.parameters),
            reclaim_policy=cfg.reclaim_policy,
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"name": args.name})
