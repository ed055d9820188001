"""What every section of the stack config is built from: the `Model` base (frozen, unknown keys
refused, camelCase in YAML), the value types (quantities, DNS labels, hostnames, durations, image
references), container resources, and the two errors a stack file can raise."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

PROJECT = "event-platform"


_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")


class PlacedError(ValueError):
    """A model check's error that knows its key (absolute, or relative to the model when it starts
    with `.`) and the offending value (never a secret one), so the message names them instead of
    echoing the whole section."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        super().__init__(f"expected {expected}")
        self.key, self.value, self.expected = key, value, expected


class ConfigError(ValueError):
    """A stack file says something the platform cannot build. The message is for humans, one line
    per problem."""


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError("a Kubernetes quantity such as 500m, 2, 512Mi or 10Gi")
    return value


_BYTE_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
               "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity_bytes(value: str) -> int:
    """A memory/storage quantity (`512Mi`, `1G`, `1073741824`) in bytes, for settings that a
    program rather than Kubernetes reads (Redis maxmemory, Postgres shared_buffers)."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(k|[KMGT]i|[MGT])?", value)
    if not match:
        raise ValueError(f"{value!r}: expected a byte quantity such as 512Mi, 1Gi or 1G")
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2) or ""])


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError("a DNS label: lowercase letters, digits and '-', at most 63 characters")
    return value


def _hostname(value: str) -> str:
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise ValueError("a lowercase DNS hostname such as events.example.com")
    return value


def _image_reference(value: str) -> str:
    last = value.rsplit("/", 1)[-1]
    if not re.fullmatch(r"[^\s@:]+(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?", last) or \
            not (":" in last or "@sha256:" in last):
        raise ValueError("an image reference with an explicit tag or digest, e.g. registry/app:1.4.2")
    if last.endswith(":latest"):
        raise ValueError("an explicit version tag, not :latest (a rollout must be reproducible)")
    return value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError("a Prometheus duration such as 15d, 12h or 30m")
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]


DnsLabel = Annotated[str, AfterValidator(_dns_label)]


Hostname = Annotated[str, AfterValidator(_hostname)]


Duration = Annotated[str, AfterValidator(_duration)]


ImageReference = Annotated[str, AfterValidator(_image_reference)]


class Model(BaseModel):
    """Base of every config model: immutable, unknown keys rejected, camelCase in YAML."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        hide_input_in_errors=False,
    )


class ResourcesConfig(Model):
    """Requests and limits of one container."""

    cpu: Quantity
    memory: Quantity
    cpu_limit: Quantity | None = None
    """Omitted: no CPU limit (throttling hurts latency more than sharing does)."""
    memory_limit: Quantity | None = None
    """Omitted: equal to the memory request."""

    def as_kubernetes(self) -> dict[str, dict[str, str]]:
        limits = {"memory": self.memory_limit or self.memory}
        if self.cpu_limit:
            limits["cpu"] = self.cpu_limit
        return {"requests": {"cpu": self.cpu, "memory": self.memory}, "limits": limits}

