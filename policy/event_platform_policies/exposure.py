"""One front door: only the gateway may be reached from outside the cluster.

NGINX Gateway Fabric's data-plane Service is created by its controller at run time, not by Pulumi,
so no policy sees it; the NGF release's values decide its type. This rule covers every Service the
program declares itself: a LoadBalancer anywhere but the gateway's namespace would be a second,
unguarded entrance (no TLS, no routing rules, its own cloud load balancer bill).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from event_platform_policies.kubernetes import SERVICE, get, namespace
from event_platform_policies.rules import config_list, resource_policy, string_list

DEFAULT_LOAD_BALANCER_NAMESPACES = ("gateway",)


def stray_load_balancers(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if resource_type != SERVICE or get(props, "spec", "type") != "LoadBalancer":
        return
    allowed = config_list(config, "allowedNamespaces", DEFAULT_LOAD_BALANCER_NAMESPACES)
    ns = namespace(props)
    if ns not in allowed:
        yield (f"is of type LoadBalancer in namespace '{ns}'; only namespaces {', '.join(allowed) or '(none)'} "
               "may expose one (policy config allowedNamespaces): serve it through the Gateway with an "
               "HTTPRoute and keep the Service ClusterIP")


LOAD_BALANCER_ONLY_FOR_GATEWAY = resource_policy(
    "load-balancer-only-for-gateway",
    "No Service of type LoadBalancer outside the gateway's namespace: the Gateway is the one front door.",
    stray_load_balancers,
    remediation="Make the Service ClusterIP and attach an HTTPRoute to the platform Gateway.",
    config={"allowedNamespaces": string_list(
        DEFAULT_LOAD_BALANCER_NAMESPACES, "Namespaces whose Services may be of type LoadBalancer.")})
