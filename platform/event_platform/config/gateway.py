"""`event-platform:gateway`: the front door: domain, how the data plane is exposed, TLS
(components/gateway.py)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from event_platform.config.base import (
    Hostname,
    Model,
)

AWS_LB = "service.beta.kubernetes.io/aws-load-balancer-"


_QUALIFIED_NAME = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _annotation_key(value: str) -> str:
    if not _QUALIFIED_NAME.match(value) or len(value.partition("/")[0]) > 253:
        raise ValueError("an annotation key: [prefix/]name, name at most 63 characters")
    return value


class TlsConfig(Model):
    """HTTPS on the Gateway with a certificate from cert-manager."""

    issuer: Literal["self-signed", "letsencrypt-staging", "letsencrypt"] = "self-signed"
    """Which ClusterIssuer signs the Gateway's certificate. Omitted: a self-signed issuer (no
    internet needed; browsers will warn)."""
    acme_email: str | None = None
    """Account e-mail for Let's Encrypt. Required when the issuer is a Let's Encrypt one."""

    @model_validator(mode="after")
    def _acme_needs_email(self) -> TlsConfig:
        if self.issuer.startswith("letsencrypt") and not self.acme_email:
            raise ValueError(f"issuer {self.issuer} needs acmeEmail; expected an e-mail address")
        return self


class GatewayConfig(Model):
    domain: Hostname
    """Parent domain of every hostname the platform serves (`events.<domain>`, `grafana.<domain>`).
    Required. dev: `localtest.me`, whose names all resolve to 127.0.0.1."""
    service_type: Literal["NodePort", "LoadBalancer"] = "LoadBalancer"
    """How the gateway's data plane is exposed. Omitted: LoadBalancer (a real cluster)."""
    http_node_port: int = Field(default=30080, ge=30000, le=32767)
    """NodePort for HTTP when service_type is NodePort; the kind config maps it to the host.
    Omitted: 30080."""
    https_node_port: int = Field(default=30443, ge=30000, le=32767)
    """NodePort for HTTPS when service_type is NodePort. Omitted: 30443."""
    tls: TlsConfig | None = None
    """Omitted: HTTP only."""
    replicas: int = Field(default=1, ge=1, le=10)
    """nginx data-plane replicas behind the Gateway (the front door survives a node only with 2+).
    Omitted: 1."""
    service_annotations: dict[Annotated[str, AfterValidator(_annotation_key)], str] = Field(default_factory=dict)
    """Annotations of the data-plane Service: what the cluster's load-balancer controller reads. With
    the AWS Load Balancer Controller, `service.beta.kubernetes.io/aws-load-balancer-scheme:
    internet-facing` (its default is an internal load balancer nobody outside the VPC reaches).
    Omitted: none."""

    @model_validator(mode="after")
    def _aws_load_balancer_says_its_scheme(self) -> GatewayConfig:
        aws = [k for k in self.service_annotations if k.startswith("service.beta.kubernetes.io/aws-load-balancer")]
        if aws and f"{AWS_LB}scheme" not in self.service_annotations:
            raise ValueError(f"serviceAnnotations configure the AWS Load Balancer Controller but do not set "
                             f"{AWS_LB}scheme; expected internet-facing (public) or internal")
        return self

    @model_validator(mode="after")
    def _node_ports_differ(self) -> GatewayConfig:
        if self.service_type == "NodePort" and self.http_node_port == self.https_node_port:
            raise ValueError(f"httpNodePort and httpsNodePort are both {self.http_node_port}; expected two "
                             "different ports")
        return self

