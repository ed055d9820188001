"""The front door: Gateway API CRDs, NGINX Gateway Fabric, and the one `Gateway` the platform owns.

Apps do not touch the Gateway; they attach `HTTPRoute`s to it with `http_route.HttpRoute`, from
namespaces that carry the opt-in label (`labels.GATEWAY_ROUTES`). With TLS, cert-manager issues one
certificate for the concrete hostnames the stack serves (see docs/gateway.md for why not a wildcard).

Order on `pulumi up`: Gateway API CRDs -> NGF release (GatewayClass `nginx`, NginxProxy) and, with
TLS, cert-manager -> Gateway -> ClusterIssuer -> Certificate. NGF then provisions one nginx
Deployment + Service per Gateway (`<gateway>-<class>`) in the Gateway's namespace, configured by the
NginxProxy the chart makes from the `nginx.*` values below.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, model_validator

from event_platform import labels, versions
from event_platform.components.helm import helm_release
from event_platform.components.network import Peer
from event_platform.config import GatewayConfig, TlsConfig

GATEWAY_API = "gateway.networking.k8s.io"
GATEWAY_API_VERSION = f"{GATEWAY_API}/v1"
CERT_MANAGER_API = "cert-manager.io/v1"

GATEWAY_CLASS = "nginx"
"""The GatewayClass the NGF chart creates (`nginxGateway.gatewayClassName`)."""
HTTP_LISTENER = "http"
HTTPS_LISTENER = "https"
HTTP_PORT = 80
HTTPS_PORT = 443

GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
"""Label NGF 2.6 puts on the nginx pods it provisions for a Gateway (internal/controller/provisioner/
objects.go, buildLabelsAndAnnotations; the Gateway API's conventional infrastructure label)."""

ACME_SERVERS = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}

# Modest requests so the front door is scheduled with a guarantee; no CPU limit (throttling a proxy
# adds latency to every request), a memory limit so a leak cannot take the node down.
CONTROL_PLANE_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
DATA_PLANE_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}


class GatewayArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: GatewayConfig
    """Domain, how the data plane is exposed, TLS."""
    namespace: k8s.core.v1.Namespace
    """The platform `gateway` namespace (from tenancy): the controller, the Gateway and the nginx
    data plane run there."""
    namespace_name: str
    """metadata.name of `namespace`, needed as plain text by routes and NetworkPolicies. Required."""
    cert_manager_namespace: k8s.core.v1.Namespace | None = None
    """Where cert-manager runs. Required when `config.tls` is set; ignored otherwise."""
    hostnames: tuple[str, ...] = ()
    """Every hostname the stack serves (apps' and Grafana's). With TLS the certificate covers exactly
    these, and `HttpRoute` refuses any other. Omitted: none (fine without TLS)."""
    gateway_name: str = "platform"
    """metadata.name of the Gateway. Omitted: `platform`."""

    @model_validator(mode="after")
    def _tls_needs_what_it_needs(self) -> GatewayArgs:
        tls = self.config.tls
        if tls is None:
            return self
        if self.cert_manager_namespace is None:
            raise ValueError("gateway.tls is set; expected a cert_manager_namespace to install cert-manager into")
        if not self.hostnames:
            raise ValueError("gateway.tls is set but no hostname is served; expected at least one hostname")
        if tls.issuer in ACME_SERVERS and (wild := [h for h in self.hostnames if h.startswith("*.")]):
            raise ValueError(f"{', '.join(wild)}: a wildcard certificate cannot be issued by {tls.issuer} "
                             "over HTTP-01; expected concrete hostnames")
        return self


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
    with an HTTPRoute cert-manager attaches to the Gateway's plain-HTTP listener."""
    if tls.issuer in ACME_SERVERS:
        spec: dict[str, Any] = {"acme": {
            "server": ACME_SERVERS[tls.issuer],
            "email": tls.acme_email,
            "privateKeySecretRef": {"name": f"{tls.issuer}-account-key"},
            "solvers": [{"http01": {"gatewayHTTPRoute": {"parentRefs": [{
                "group": GATEWAY_API, "kind": "Gateway", "name": gateway_name,
                "namespace": gateway_namespace, "sectionName": HTTP_LISTENER}]}}}],
        }}
    else:
        spec = {"selfSigned": {}}
    return {"apiVersion": CERT_MANAGER_API, "kind": "ClusterIssuer",
            "metadata": {"name": tls.issuer, "labels": labels.common(tls.issuer, "tls")}, "spec": spec}


def certificate(*, name: str, namespace: str, issuer: str, hostnames: tuple[str, ...]) -> dict[str, Any]:
    """One certificate for every served hostname, into the Secret the HTTPS listener references."""
    return {"apiVersion": CERT_MANAGER_API, "kind": "Certificate",
            "metadata": {"name": name, "namespace": namespace, "labels": labels.common(name, "tls")},
            "spec": {"secretName": name, "dnsNames": list(hostnames),
                     "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
                     "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}}}


class Gateway(pulumi.ComponentResource):
    """Gateway API CRDs, NGINX Gateway Fabric, cert-manager when TLS is on, and the platform Gateway."""

    gateway_name: str
    """metadata.name of the Gateway object."""
    gateway_namespace: str
    """Its namespace's name."""
    gateway_class: str
    """The GatewayClass it belongs to (created by the NGF chart)."""
    http_listener: str
    """Name of the plain-HTTP listener (port 80)."""
    https_listener: str | None
    """Name of the HTTPS listener (port 443) when TLS is on, else None."""
    domain: str
    """The stack's parent domain; apps derive default hostnames from it."""
    hostnames: tuple[str, ...]
    """Every hostname the stack serves; with TLS, exactly the certificate's names."""
    urls: tuple[str, ...]
    """`scheme://hostname` for each served hostname."""
    data_plane_service: str
    """Name of the nginx Service NGF provisions for the Gateway (in `gateway_namespace`): where the
    address is (`kubectl -n <ns> get service <name>`)."""
    data_plane_peer: Peer
    """The nginx data-plane pods, as a NetworkPolicy peer: what apps allow ingress from."""
    certificate_secret: str | None
    """Secret holding the Gateway's certificate when TLS is on."""
    gateway: pulumi.Resource
    """The Gateway custom resource."""
    crds: pulumi.Resource
    """What installs the Gateway API CRDs: every Gateway API object must depend on it."""
    controller: pulumi.Resource
    """The NGF Helm release (also its own gateway.nginx.org CRDs and the GatewayClass)."""
    cert_manager: pulumi.Resource | None
    """The cert-manager Helm release when TLS is on."""
    issuer: pulumi.Resource | None
    """What declares the ClusterIssuer when TLS is on."""
    certificate: pulumi.Resource | None
    """What declares the Certificate when TLS is on."""

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:gateway:Gateway", name, None, opts)
        cfg, tls = args.config, args.config.tls
        self.gateway_name = args.gateway_name
        self.gateway_namespace = args.namespace_name
        self.gateway_class = GATEWAY_CLASS
        self.http_listener = HTTP_LISTENER
        self.https_listener = HTTPS_LISTENER if tls else None
        self.domain = cfg.domain
        self.hostnames = tuple(args.hostnames)
        self.urls = tuple(f"{'https' if tls else 'http'}://{h}" for h in self.hostnames)
        self.data_plane_service = data_plane_name(args.gateway_name)
        self.data_plane_peer = Peer(namespace=args.namespace_name,
                                    pod_labels={GATEWAY_NAME_LABEL: args.gateway_name})
        self.certificate_secret = f"{args.gateway_name}-tls" if tls else None

        # NGF's chart ships only its own gateway.nginx.org CRDs (crds/ -> config/crd/bases); the Gateway
        # API CRDs are installed separately, at the version NGF supports (config/crd/gateway-api/standard).
        self.crds = k8s.yaml.v2.ConfigFile(
            f"{name}-gateway-api-crds", file=versions.GATEWAY_API_CRDS_URL,
            opts=pulumi.ResourceOptions(parent=self))

        self.controller = helm_release(
            f"{name}-controller", versions.NGINX_GATEWAY_FABRIC, namespace=args.namespace.metadata.name,
            values=controller_values(cfg, args.gateway_name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.namespace, self.crds]))

        self.cert_manager = self.issuer = self.certificate = None
        if tls is not None:
            assert args.cert_manager_namespace is not None  # checked by GatewayArgs
            # cert-manager's Gateway API support refuses to start without the Gateway API CRDs.
            self.cert_manager = helm_release(
                f"{name}-cert-manager", versions.CERT_MANAGER,
                namespace=args.cert_manager_namespace.metadata.name, values=cert_manager_values(),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[args.cert_manager_namespace, self.crds]))

        listeners = [self._listener(HTTP_LISTENER, "HTTP", HTTP_PORT)]
        if tls is not None:
            listeners.append({**self._listener(HTTPS_LISTENER, "HTTPS", HTTPS_PORT),
                              "tls": {"mode": "Terminate", "certificateRefs": [
                                  {"group": "", "kind": "Secret", "name": self.certificate_secret}]}})
        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=GATEWAY_API_VERSION, kind="Gateway",
            metadata={"name": args.gateway_name, "namespace": args.namespace.metadata.name,
                      "labels": labels.common(args.gateway_name, "gateway")},
            spec={"gatewayClassName": GATEWAY_CLASS, "listeners": listeners},
            # the class and its NginxProxy come from the controller's release
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.namespace, self.crds, self.controller]))

        if tls is not None:
            assert self.cert_manager is not None and self.certificate_secret is not None  # set above when tls is on
            # Declared through the provider's own object list (yaml/v2 ConfigGroup), not CustomResource:
            # no cert-manager CRD schema is available to validate them here. docs/gateway.md, "Decisions".
            self.issuer = k8s.yaml.v2.ConfigGroup(
                f"{name}-cluster-issuer",
                objs=[cluster_issuer(tls, gateway_name=args.gateway_name, gateway_namespace=args.namespace_name)],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cert_manager]))
            self.certificate = k8s.yaml.v2.ConfigGroup(
                f"{name}-certificate",
                objs=[certificate(name=self.certificate_secret, namespace=args.namespace_name,
                                  issuer=tls.issuer, hostnames=self.hostnames)],
                # Issuance waits on DNS pointing at the load balancer, which happens outside Pulumi;
                # `pulumi up` must not hang on it. cert-manager retries until it succeeds.
                skip_await=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.issuer, self.gateway, args.namespace]))

        self.register_outputs({
            "gateway_name": self.gateway_name, "gateway_namespace": self.gateway_namespace,
            "gateway_class": self.gateway_class, "listeners": [x["name"] for x in listeners],
            "urls": list(self.urls), "data_plane_service": self.data_plane_service,
        })

    @staticmethod
    def _listener(name: str, protocol: str, port: int) -> dict[str, Any]:
        # Only namespaces that opted in (tenancy labels app namespaces, and the platform namespaces
        # serving a UI) may attach routes: a stray route elsewhere cannot hijack a hostname.
        return {"name": name, "protocol": protocol, "port": port,
                "allowedRoutes": {
                    "kinds": [{"group": GATEWAY_API, "kind": "HTTPRoute"}],
                    "namespaces": {"from": "Selector", "selector": {
                        "matchLabels": {labels.GATEWAY_ROUTES: labels.GATEWAY_ROUTES_ALLOWED}}}}}
