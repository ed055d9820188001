"""The pieces behind the Gateway: NGINX Gateway Fabric (the controller and its data plane) and, when a
stack asks for TLS, cert-manager with the ClusterIssuer that signs the hostnames' certificates."""

from __future__ import annotations

from typing import Any

from event_platform import labels
from event_platform.components.gateway_listeners import (
    CERT_MANAGER_API,
    GATEWAY_API,
    GATEWAY_NAME_LABEL,
    HTTP_PORT,
    HTTPS_PORT,
)
from event_platform.config.gateway import GatewayConfig, TlsConfig

GATEWAY_CLASS = "nginx"
"""The GatewayClass the NGF chart creates (`nginxGateway.gatewayClassName`)."""


ACME_SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
"""Label cert-manager puts on its HTTP-01 solver pods (pkg/issuer/acme/http/pod.go, podLabels)."""


ACME_SOLVER_PORT = 8089
"""Port the solver pod listens on (pkg/issuer/acme/http/pod.go, acmeSolverListenPort)."""


ACME_SERVERS = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}


# Modest requests so the front door is scheduled with a guarantee; no CPU limit (throttling a proxy
# adds latency to every request), a memory limit so a leak cannot take the node down.
CONTROL_PLANE_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}


DATA_PLANE_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}


def data_plane_name(gateway_name: str, gateway_class: str = GATEWAY_CLASS) -> str:
    """Name of the nginx Deployment and Service NGF provisions for a Gateway (CreateNginxResourceName:
    `<gateway>-<class>`, hashed only beyond 63 characters, which our names never reach)."""
    name = f"{gateway_name}-{gateway_class}"
    if len(name) > 63:
        raise ValueError(f"{name!r} is longer than 63 characters; NGF would hash it. Expected a shorter name")
    return name


def controller_values(cfg: GatewayConfig, gateway_name: str) -> dict[str, Any]:
    """NGINX Gateway Fabric 2.6.7 values (charts/nginx-gateway-fabric/values.yaml). The `nginx.*` part
    becomes the NginxProxy the GatewayClass points at: how NGF builds each Gateway's data plane."""
    service: dict[str, Any] = {"type": cfg.service_type}
    if cfg.service_type == "NodePort":
        node_ports = [{"port": cfg.http_node_port, "listenerPort": HTTP_PORT}]
        if cfg.tls is not None:
            node_ports.append({"port": cfg.https_node_port, "listenerPort": HTTPS_PORT})
        service["nodePorts"] = node_ports
        # kind maps the host's ports to one node; Cluster lets that node forward to nginx wherever it runs.
        service["externalTrafficPolicy"] = "Cluster"
    else:
        service["externalTrafficPolicy"] = "Local"  # keep the client's source IP in the access logs
    if cfg.service_annotations:
        # The chart has no `nginx.service.annotations`; its `nginx.service.patches` (values.yaml of
        # nginx-gateway-fabric 2.6.7: "Custom patches to apply to the NGINX Service") go into the
        # NginxProxy and onto every data-plane Service NGF provisions.
        service["patches"] = [{"type": "StrategicMerge",
                               "value": {"metadata": {"annotations": dict(cfg.service_annotations)}}}]
    nginx: dict[str, Any] = {
        "replicas": cfg.replicas,
        "service": service,
        "container": {"resources": DATA_PLANE_RESOURCES},
    }
    if cfg.replicas > 1:
        # Two replicas on one node are one node failure from an outage of the front door.
        nginx["pod"] = {"topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {GATEWAY_NAME_LABEL: gateway_name}}}]}
    return {
        "nginxGateway": {
            "gatewayClassName": GATEWAY_CLASS,
            # The chart's default phones home to F5 daily; a platform should not, unasked.
            "productTelemetry": {"enable": False},
            "resources": CONTROL_PLANE_RESOURCES,
        },
        "nginx": nginx,
    }


def cert_manager_values() -> dict[str, Any]:
    """cert-manager v1.21.1 values: its CRDs, and the Gateway API integration the HTTP-01 solver uses
    (`gatewayAPI.enabled` in the ControllerConfiguration; `enableGatewayAPI` is its deprecated form)."""
    return {
        "crds": {"enabled": True, "keep": True},
        "config": {"apiVersion": "controller.config.cert-manager.io/v1alpha1",
                   "kind": "ControllerConfiguration",
                   "gatewayAPI": {"enabled": True}},
    }


def cluster_issuer(tls: TlsConfig, *, gateway_name: str, gateway_namespace: str) -> dict[str, Any]:
    """The ClusterIssuer named after the configured issuer. ACME issuers answer HTTP-01 challenges
    with an HTTPRoute cert-manager creates next to the Certificate (the Gateway's namespace). Its
    parentRef names no listener (port is Extended support in the Gateway API): the route carries the
    challenged hostname, and the only listener of that hostname admitting the Gateway's namespace is its
    `http-<host>` listener."""
    if tls.issuer in ACME_SERVERS:
        spec: dict[str, Any] = {"acme": {
            "server": ACME_SERVERS[tls.issuer],
            "email": tls.acme_email,
            "privateKeySecretRef": {"name": f"{tls.issuer}-account-key"},
            "solvers": [{"http01": {"gatewayHTTPRoute": {"parentRefs": [{
                "group": GATEWAY_API, "kind": "Gateway", "name": gateway_name,
                "namespace": gateway_namespace}]}}}],
        }}
    else:
        spec = {"selfSigned": {}}
    return {"apiVersion": CERT_MANAGER_API, "kind": "ClusterIssuer",
            "metadata": {"name": tls.issuer, "labels": labels.common(tls.issuer, "tls")}, "spec": spec}
