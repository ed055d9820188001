"""How an app puts itself behind the platform Gateway: one call declares the app's `HTTPRoute`(s) and
the NetworkPolicy flow from the Gateway's nginx pods to the app's pods.

Apps own their routes (in their namespace); the platform owns the Gateway. The route attaches by
sectionName to each of its hostnames' listener (`https-<host>` with TLS, else `http-<host>`), which
admits only the hostname's owning namespace. With TLS, plain HTTP is the Gateway's own redirect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, model_validator

from event_platform import labels
from event_platform.components.gateway import GATEWAY_API, GATEWAY_API_VERSION, Gateway
from event_platform.components.network import allow_ingress

MAX_WEIGHT = 1_000_000
"""Largest backendRef weight the Gateway API accepts."""


@dataclass(frozen=True)
class RouteBackend:
    """A Service the route sends a share of requests to, and the pods behind it."""

    service: k8s.core.v1.Service
    """The Service, in the route's namespace."""
    port: int
    """The Service port."""
    weight: int = 1
    """Relative share of requests (e.g. 90 and 10 for a canary). 0 sends none."""
    pod_labels: Mapping[str, str] | None = field(kw_only=True)
    """Labels of the pods the Service selects: the NetworkPolicy lets the Gateway's nginx pods reach
    them. None only in a namespace that is not default-deny (a policy there would isolate the pods
    and cut their other flows). Required, by keyword."""
    target_port: int | None = field(kw_only=True)
    """The container port the Service forwards to (what the policy opens). Required with pod_labels."""

    def __post_init__(self) -> None:
        if not 0 <= self.weight <= MAX_WEIGHT:
            raise ValueError(f"backend weight {self.weight}: expected 0..{MAX_WEIGHT}")
        if (self.pod_labels is None) != (self.target_port is None):
            raise ValueError("pod_labels and target_port go together: both set (declare the flow) or both None")
        if self.pod_labels is not None and not self.pod_labels:
            raise ValueError("pod_labels is empty, which would open every pod of the namespace; expected the "
                             "labels the Service selects")


class HttpRouteArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    gateway: Gateway
    """The platform Gateway to attach to."""
    namespace: k8s.core.v1.Namespace
    """The app's namespace: the route lives there, next to its Services. It must own every hostname
    of the route (the Gateway's `owners`)."""
    route_name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=47)
    """metadata.name of the HTTPRoute. At most 47 characters: the redirect route and the policies add
    `-redirect` / `-from-gateway-<n>`, and every name is also a label value (63 at most)."""
    hostnames: tuple[str, ...] = Field(min_length=1)
    """Hostnames the route serves: each must be served by the Gateway, and owned by `namespace` or the
    Gateway will not attach the route (its listeners admit only the owner; tests/test_access_matrix.py)."""
    backends: tuple[RouteBackend, ...] = Field(min_length=1)
    """Where requests go, with their weights."""
    path_prefix: str = Field(default="/", pattern=r"^/")
    """Only requests under this path. Omitted: every path. Ignored when `paths` is given."""
    paths: tuple[str, ...] = ()
    """Several path prefixes, each its own match (publish an API, keep operations endpoints such as
    /metrics inside the cluster). Omitted: `path_prefix` alone."""

    @model_validator(mode="after")
    def _consistent(self) -> HttpRouteArgs:
        if bad := [p for p in self.paths if not p.startswith("/")]:
            raise ValueError(f"paths {bad}: expected absolute path prefixes starting with /")
        if not any(b.weight for b in self.backends):
            raise ValueError("every backend has weight 0; expected at least one to receive requests")
        if unserved := [h for h in self.hostnames if h not in self.gateway.owners]:
            raise ValueError(f"{', '.join(unserved)}: not served by the Gateway (serves "
                             f"{', '.join(self.gateway.hostnames)}); add it to the stack's served "
                             "hostnames (stack.served_hostnames)")
        return self


class HttpRoute(pulumi.ComponentResource):
    """An app's HTTPRoute on the platform Gateway and the NetworkPolicies letting the Gateway's nginx pods reach each backend's pods."""

    route: k8s.apiextensions.CustomResource
    """The HTTPRoute that forwards to the backends (HTTPS listener with TLS, else HTTP)."""
    network_policies: tuple[k8s.networking.v1.NetworkPolicy, ...]
    """gateway -> backend pods, one per backend that names its pods."""
    listeners: tuple[str, ...]
    """The listeners `route` attaches to, one per hostname."""

    def __init__(self, name: str, args: HttpRouteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:gateway:HttpRoute", name, None, opts)
        gw = args.gateway
        ns = args.namespace.metadata.name
        deps: list[pulumi.Resource] = [args.namespace, gw.crds, gw.gateway]
        match = [{"path": {"type": "PathPrefix", "value": path}} for path in args.paths or (args.path_prefix,)]
        self.listeners = tuple(gw.listener_for(h) for h in args.hostnames)

        self.route = k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version=GATEWAY_API_VERSION, kind="HTTPRoute",
            metadata={"name": args.route_name, "namespace": ns, "labels": labels.common(args.route_name, "route")},
            spec={"parentRefs": [parent_ref(gw, listener) for listener in self.listeners],
                  "hostnames": list(args.hostnames),
                  "rules": [{"matches": match,
                             "backendRefs": [{"group": "", "kind": "Service", "name": b.service.metadata.name,
                                              "port": b.port, "weight": b.weight} for b in args.backends]}]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*deps, *(b.service for b in args.backends)]))

        policies = []
        seen: set[tuple[tuple[tuple[str, str], ...], int]] = set()
        for i, backend in enumerate(args.backends):
            if backend.pod_labels is None or backend.target_port is None:
                continue
            key = (tuple(sorted(backend.pod_labels.items())), backend.target_port)
            if key in seen:
                continue
            seen.add(key)
            policy_name = f"{args.route_name}-from-gateway" + (f"-{i}" if i else "")
            policies.append(allow_ingress(
                f"{name}-from-gateway" + (f"-{i}" if i else ""), namespace=ns, policy_name=policy_name,
                to_pods=dict(backend.pod_labels), sources=[gw.data_plane_peer], ports=[backend.target_port],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[args.namespace])))
        self.network_policies = tuple(policies)

        self.register_outputs({"route": args.route_name, "listeners": list(self.listeners),
                               "hostnames": list(args.hostnames)})


def covered(hostname: str, certificate_names: tuple[str, ...]) -> bool:
    """Does a certificate for `certificate_names` serve `hostname` (a wildcard covers one label)?"""
    return any(hostname == name or (name.startswith("*.") and hostname.count(".") == name.count(".")
                                    and hostname.endswith(name[1:]))
               for name in certificate_names)


def parent_ref(gateway: Gateway, listener: str) -> dict[str, str]:
    """A parentRef naming the platform Gateway and one of its listeners."""
    return {"group": GATEWAY_API, "kind": "Gateway", "name": gateway.gateway_name,
            "namespace": gateway.gateway_namespace, "sectionName": listener}
