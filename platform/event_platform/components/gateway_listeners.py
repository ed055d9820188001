"""The Gateway's listeners and certificates, one per hostname: their names stay within what the Gateway
API allows for any hostname (a hash shortens the long ones), and each admits exactly its owner."""

from __future__ import annotations

import hashlib
from typing import Any

from event_platform import labels

CERT_MANAGER_API = "cert-manager.io/v1"
GATEWAY_API = "gateway.networking.k8s.io"
GATEWAY_API_VERSION = f"{GATEWAY_API}/v1"
HTTP_LISTENER = "http"
"""Prefix of the per-hostname plain-HTTP listeners (`http-<host>`)."""
HTTPS_LISTENER = "https"
"""Prefix of the per-hostname HTTPS listeners (`https-<host>`)."""
HTTP_PORT = 80
HTTPS_PORT = 443
MAX_LISTENERS = 64
"""`spec.listeners` maxItems in the Gateway API CRD (gateway.networking.k8s.io_gateways.yaml)."""
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
"""Label NGF 2.6 puts on the nginx pods it provisions for a Gateway (internal/controller/provisioner/
objects.go, buildLabelsAndAnnotations; the Gateway API's conventional infrastructure label)."""

SECTION_NAME_MAX = 253
"""Longest listener name (Gateway API SectionName)."""


def bounded_name(name: str, limit: int) -> str:
    """`name` if it fits in `limit` characters, else its start and a hash of all of it: two long names
    never collide, and the result still ends in a letter or digit."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:limit - len(digest) - 1].rstrip('-')}-{digest}"


def listener_name(prefix: str, hostname: str) -> str:
    """`http-events-example-com`: a valid SectionName (DNS label characters) per prefix and hostname,
    shortened with a hash when the hostname is near its own 253-character limit."""
    return bounded_name(f"{prefix}-{hostname.replace('*', 'wildcard').replace('.', '-')}", SECTION_NAME_MAX)


def certificate_name(hostname: str) -> str:
    """Certificate and Secret name of one hostname's certificate (also a label value: 63 at most)."""
    return f"{bounded_name(hostname.replace('*', 'wildcard').replace('.', '-'), 59)}-tls"


def certificate(*, name: str, namespace: str, issuer: str, hostnames: tuple[str, ...]) -> dict[str, Any]:
    """A certificate for `hostnames`, into the Secret the hostname's HTTPS listener references."""
    return {"apiVersion": CERT_MANAGER_API, "kind": "Certificate",
            "metadata": {"name": name, "namespace": namespace, "labels": labels.common(name, "tls")},
            "spec": {"secretName": name, "dnsNames": list(hostnames),
                     "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
                     "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}}}


def _listener(name: str, protocol: str, port: int, hostname: str, namespace: str) -> dict[str, Any]:
    """A listener for one hostname admitting HTTPRoutes from exactly one namespace: a route created in
    any other namespace for this hostname (kubectl included) is not accepted by the Gateway."""
    return {"name": name, "protocol": protocol, "port": port, "hostname": hostname,
            "allowedRoutes": {
                "kinds": [{"group": GATEWAY_API, "kind": "HTTPRoute"}],
                "namespaces": {"from": "Selector", "selector": {
                    "matchLabels": {labels.NAMESPACE_NAME: namespace}}}}}
