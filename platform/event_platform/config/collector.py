"""`event-platform:collector`: the event collector's registry, image, environments (hostname,
scale, canary, SLOs) and service settings (components/collector.py, collector_image.py)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator

from event_platform.config.base import (
    DnsLabel,
    ImageReference,
    Model,
    ResourcesConfig,
)
from event_platform.config.services import (
    RoutedEnvironmentConfig,
)
from event_platform.config.slo import (
    CollectorSloConfig,
)

_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def _repository(value: str) -> str:
    if len(value) > 200 or not _REPOSITORY.match(value):
        raise ValueError("an image repository path: lowercase letters, digits and single separators (. _ __ -) "
                         "between them, components joined by '/', at most 200 characters")
    return value


class RegistryConfig(Model):
    """Where the collector image is pushed and pulled from."""

    server: str
    """Registry host[:port]. dev: the kind cluster's local registry `localhost:5001`."""
    repository: Annotated[str, AfterValidator(_repository)] = "event-collector"
    """Path of the image in the registry (distribution's reference grammar). Omitted: `event-collector`."""
    username: str | None = None
    """Omitted: anonymous push (the local registry)."""
    password: SecretStr | None = None
    """Push password or token. Must be `secure:` in the stack file. Omitted: anonymous push."""
    pull_secret_key: str | None = None
    """Entry in the secret store holding a `.dockerconfigjson` that lets the cluster pull from this
    registry; each app namespace then gets it as an image pull Secret. Omitted: nodes pull on their
    own (the dev registry is anonymous; a cloud registry may grant the nodes' identity)."""

    @model_validator(mode="after")
    def _image_name_fits(self) -> RegistryConfig:
        # distribution/reference: a name (registry host and path) holds at most 255 characters
        if len(self.server) + 1 + len(self.repository) > 255:
            raise ValueError(f"server and repository make a {len(self.server) + 1 + len(self.repository)}-character "
                             "image name; expected at most 255")
        return self


ImagePlatform = Literal["linux/amd64", "linux/arm64"]


def _prebuilt_reference(value: str) -> str:
    match = re.fullmatch(r"[^\s@]+/[^\s@:/]+(?:/[^\s@:/]+)*:([\w][\w.-]{0,127})@sha256:[0-9a-f]{64}", value)
    if not match:
        raise ValueError("an image reference with tag and digest, e.g. registry/app:src-0123abcd4567@sha256:<64 hex>")
    if len(match.group(1)) > 63:
        raise ValueError("a tag of at most 63 characters (it becomes the pods' app.kubernetes.io/version label)")
    return value


class CollectorImageConfig(Model):
    """How the collector image is built, or which already-built image to run."""

    platforms: tuple[ImagePlatform, ...] | None = Field(default=None, min_length=1)
    """Platforms to build for; several make one multi-platform image (the build machine needs QEMU
    for the foreign ones). Omitted: the architecture of the machine running Pulumi, which is what a
    kind node runs (dev on an arm64 laptop gets linux/arm64)."""
    prebuilt: Annotated[str, AfterValidator(_prebuilt_reference)] | None = None
    """An image built and pushed before, as `registry/repository:tag@sha256:<digest>`: nothing is
    built and every environment runs exactly that digest. The deploy workflow sets it to promote the
    digest the dev smoke test ran (docs/delivery.md). Omitted: built from apps/collector."""


class CanaryConfig(Model):
    """A second version receiving a share of the traffic. Remove the block to fold traffic back."""

    image: ImageReference
    """Full image reference with an explicit tag or digest (never `latest`)."""
    weight: int = Field(ge=1, le=99)
    """Percent of requests sent to the canary (1-99)."""


class CollectorEnvironmentConfig(RoutedEnvironmentConfig):
    """Per-environment settings of the collector."""

    canary: CanaryConfig | None = None
    """Omitted: all traffic to the stable version."""
    slo: CollectorSloConfig = CollectorSloConfig()
    """Availability and latency objectives the alerts are generated from. Omitted: the defaults of
    CollectorSloConfig."""


class CollectorConfig(Model):
    registry: RegistryConfig
    image: CollectorImageConfig = CollectorImageConfig()
    """Omitted: built for the host's architecture."""
    environments: dict[DnsLabel, CollectorEnvironmentConfig]
    """One entry per app namespace, keyed by its name. Required."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Omitted: info."""
    retention_days: int = Field(default=30, ge=1, le=3650)
    """Events older than this are deleted. Omitted: 30."""
    max_batch_size: int = Field(default=500, ge=1, le=10000)
    """Most events in one POST. Omitted: 500."""
    resources: ResourcesConfig = ResourcesConfig(cpu="250m", memory="256Mi", memory_limit="512Mi")

