"""The front door: Gateway API CRDs, NGINX Gateway Fabric, and the one `Gateway` the platform owns.

Hostname ownership is a property of the Gateway itself, so it holds against a route created with
kubectl: every served hostname gets its own listener(s), and each listener's `allowedRoutes` admits
exactly one namespace (`kubernetes.io/metadata.name`). Without TLS the hostname's `http-<host>`
listener belongs to its owning namespace. With TLS the `https-<host>` listener belongs to the owner
and the `http-<host>` listener to the Gateway's own namespace, where the platform answers plain HTTP
with a redirect and cert-manager's HTTP-01 solver routes live (cert-manager creates them in the
Certificate's namespace: pkg/issuer/acme/http/httproute.go, createGatewayHTTPRoute). Each hostname has
its own Certificate, so one name failing validation leaves the others served.

Order on `pulumi up`: Gateway API CRDs -> NGF release (GatewayClass `nginx`, NginxProxy) and, with
TLS, cert-manager -> Gateway (+ redirect routes) -> ClusterIssuer -> Certificates. NGF then provisions
one nginx Deployment + Service per Gateway (`<gateway>-<class>`) in the Gateway's namespace, configured
by the NginxProxy the chart makes from the `nginx.*` values below.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, model_validator

from event_platform import labels, versions
from event_platform.components.gateway_controller import (
    ACME_SERVERS,
    GATEWAY_CLASS,
    cert_manager_values,
    cluster_issuer,
    controller_values,
    data_plane_name,
)
from event_platform.components.gateway_listeners import (
    GATEWAY_API,
    GATEWAY_API_VERSION,
    GATEWAY_NAME_LABEL,
    HTTP_LISTENER,
    HTTP_PORT,
    HTTPS_LISTENER,
    HTTPS_PORT,
    MAX_LISTENERS,
    _listener,
    bounded_name,
    certificate,
    certificate_name,
    listener_name,
)
from event_platform.components.helm import helm_release
from event_platform.components.network import Peer
from event_platform.config.gateway import GatewayConfig


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
    hostnames: dict[str, str] = {}
    """Every hostname the stack serves (apps' and Grafana's), each with the name of the one namespace
    whose routes may serve it. Each gets its own listener(s) and, with TLS, its own Certificate; a
    route for any other hostname attaches nowhere. Omitted: none (nothing is served)."""
    gateway_name: str = "platform"
    """metadata.name of the Gateway. Omitted: `platform`."""

    @model_validator(mode="after")
    def _tls_needs_what_it_needs(self) -> GatewayArgs:
        listeners = len(self.hostnames) * (2 if self.config.tls else 1)
        if listeners > MAX_LISTENERS:
            raise ValueError(f"{len(self.hostnames)} hostnames need {listeners} listeners; the Gateway API "
                             f"allows at most {MAX_LISTENERS} on one Gateway")
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


class Gateway(pulumi.ComponentResource):
    """Gateway API CRDs, NGINX Gateway Fabric, cert-manager when TLS is on, and the platform Gateway
    with one listener per hostname and protocol, each admitting routes from exactly one namespace."""

    gateway_name: str
    """metadata.name of the Gateway object."""
    gateway_namespace: str
    """Its namespace's name."""
    gateway_class: str
    """The GatewayClass it belongs to (created by the NGF chart)."""
    http_listener: str
    """Name prefix of the plain-HTTP listeners (port 80): `http-<host>`."""
    https_listener: str | None
    """Name prefix of the HTTPS listeners (port 443) when TLS is on, else None (so it is truthy
    exactly when the stack serves HTTPS)."""
    domain: str
    """The stack's parent domain; apps derive default hostnames from it."""
    hostnames: tuple[str, ...]
    """Every hostname the stack serves."""
    owners: dict[str, str]
    """Hostname -> the one namespace whose routes may serve it."""
    urls: tuple[str, ...]
    """`scheme://hostname` for each served hostname."""
    data_plane_service: str
    """Name of the nginx Service NGF provisions for the Gateway (in `gateway_namespace`): where the
    address is (`kubectl -n <ns> get service <name>`)."""
    data_plane_peer: Peer
    """The nginx data-plane pods, as a NetworkPolicy peer: what apps allow ingress from."""
    certificate_secrets: dict[str, str]
    """Hostname -> Secret holding its certificate, when TLS is on (else empty)."""
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
    """What declares the Certificates (one per hostname) when TLS is on."""
    redirects: tuple[pulumi.Resource, ...]
    """With TLS: one HTTPRoute per hostname in the Gateway's namespace answering plain HTTP with 301
    to https:// (empty without TLS)."""

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:gateway:Gateway", name, None, opts)
        cfg, tls = args.config, args.config.tls
        self.gateway_name = args.gateway_name
        self.gateway_namespace = args.namespace_name
        self.gateway_class = GATEWAY_CLASS
        self.http_listener = HTTP_LISTENER
        self.https_listener = HTTPS_LISTENER if tls else None
        self.domain = cfg.domain
        self.owners = dict(args.hostnames)
        self.hostnames = tuple(self.owners)
        self.urls = tuple(f"{'https' if tls else 'http'}://{h}" for h in self.hostnames)
        self.data_plane_service = data_plane_name(args.gateway_name)
        self.data_plane_peer = Peer(namespace=args.namespace_name,
                                    pod_labels={GATEWAY_NAME_LABEL: args.gateway_name})
        self.certificate_secrets = {h: certificate_name(h) for h in self.hostnames} if tls else {}

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

        listeners = []
        for host, owner in self.owners.items():
            if tls is None:
                listeners.append(_listener(listener_name(HTTP_LISTENER, host), "HTTP", HTTP_PORT, host, owner))
                continue
            listeners.append(_listener(listener_name(HTTP_LISTENER, host), "HTTP", HTTP_PORT, host,
                                       args.namespace_name))
            listeners.append({**_listener(listener_name(HTTPS_LISTENER, host), "HTTPS", HTTPS_PORT, host, owner),
                              "tls": {"mode": "Terminate", "certificateRefs": [
                                  {"group": "", "kind": "Secret", "name": self.certificate_secrets[host]}]}})
        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=GATEWAY_API_VERSION, kind="Gateway",
            metadata={"name": args.gateway_name, "namespace": args.namespace.metadata.name,
                      "labels": labels.common(args.gateway_name, "gateway")},
            spec={"gatewayClassName": GATEWAY_CLASS, "listeners": listeners},
            # the class and its NginxProxy come from the controller's release
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.namespace, self.crds, self.controller]))

        self.redirects = ()
        if tls is not None:
            assert self.cert_manager is not None  # set above when tls is on
            self.redirects = tuple(self._redirect(f"{name}-redirect-{i}", host, args.namespace)
                                   for i, host in enumerate(self.hostnames))
            # Declared through the provider's own object list (yaml/v2 ConfigGroup), not CustomResource:
            # no cert-manager CRD schema is available to validate them here. docs/gateway.md, "Decisions".
            self.issuer = k8s.yaml.v2.ConfigGroup(
                f"{name}-cluster-issuer",
                objs=[cluster_issuer(tls, gateway_name=args.gateway_name, gateway_namespace=args.namespace_name)],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[
                    r for r in (self.cert_manager,) if r is not None]))
            self.certificate = k8s.yaml.v2.ConfigGroup(
                f"{name}-certificates",
                objs=[certificate(name=self.certificate_secrets[h], namespace=args.namespace_name,
                                  issuer=tls.issuer, hostnames=(h,)) for h in self.hostnames],
                # Issuance waits on DNS pointing at the load balancer, which happens outside Pulumi;
                # `pulumi up` must not hang on it. cert-manager retries until it succeeds.
                skip_await=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.issuer, self.gateway, args.namespace]))

        self.register_outputs({
            "gateway_name": self.gateway_name, "gateway_namespace": self.gateway_namespace,
            "gateway_class": self.gateway_class, "listeners": [x["name"] for x in listeners],
            "owners": self.owners, "urls": list(self.urls), "data_plane_service": self.data_plane_service,
        })

    def listener_for(self, hostname: str) -> str:
        """The listener a route serving `hostname` attaches to: HTTPS with TLS, else HTTP. A hostname the
        Gateway does not serve is refused here rather than as a route that never attaches."""
        if hostname not in self.owners:
            raise ValueError(f"{hostname}: not served by the Gateway (serves {', '.join(self.hostnames)}); "
                             "add it to the stack's served hostnames (stack.served_hostnames)")
        return listener_name(self.https_listener or self.http_listener, hostname)

    def _redirect(self, resource_name: str, hostname: str, namespace: k8s.core.v1.Namespace) -> pulumi.Resource:
        # cert-manager's HTTP-01 solver routes match an Exact path, which outranks this prefix, so
        # challenges are still answered over plain HTTP.
        route = bounded_name(f"redirect-{listener_name(HTTP_LISTENER, hostname)}", 63)  # also a label value
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=GATEWAY_API_VERSION, kind="HTTPRoute",
            metadata={"name": route, "namespace": namespace.metadata.name, "labels": labels.common(route, "route")},
            spec={"parentRefs": [{"group": GATEWAY_API, "kind": "Gateway", "name": self.gateway_name,
                                  "namespace": self.gateway_namespace,
                                  "sectionName": listener_name(HTTP_LISTENER, hostname)}],
                  "hostnames": [hostname],
                  "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                             "filters": [{"type": "RequestRedirect",
                                          "requestRedirect": {"scheme": "https", "statusCode": 301}}]}]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, self.crds, self.gateway]))


