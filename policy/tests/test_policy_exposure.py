"""The one-front-door rule: a LoadBalancer Service only in the gateway's namespace."""

from __future__ import annotations

from event_platform_policies.exposure import LOAD_BALANCER_ONLY_FOR_GATEWAY
from event_platform_policies.testing import assert_names_resource_and_rule, check_resource

SERVICE = "kubernetes:core/v1:Service"


def service(namespace: str, service_type: str | None, name: str = "web") -> dict:
    spec: dict = {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": "http"}]}
    if service_type:
        spec["type"] = service_type
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_cluster_internal_services_pass_anywhere() -> None:
    """If this fails, ordinary Services (what HTTPRoutes point at) are rejected."""
    for service_type in (None, "ClusterIP", "NodePort"):
        assert check_resource(LOAD_BALANCER_ONLY_FOR_GATEWAY, SERVICE, service("dev", service_type)) == []


def test_a_load_balancer_in_the_gateway_namespace_passes() -> None:
    """If this fails, the platform's own front door cannot be declared as a LoadBalancer."""
    assert check_resource(LOAD_BALANCER_ONLY_FOR_GATEWAY, SERVICE, service("gateway", "LoadBalancer")) == []


def test_a_load_balancer_in_an_app_namespace_is_rejected() -> None:
    """If this fails, an app opens a second, unguarded entrance beside the Gateway."""
    messages = check_resource(LOAD_BALANCER_ONLY_FOR_GATEWAY, SERVICE, service("production", "LoadBalancer", "events"),
                              name="collector-production-service")
    message = assert_names_resource_and_rule(
        messages, rule="load-balancer-only-for-gateway",
        names=("Service 'production/events'", "collector-production-service", "LoadBalancer"))
    assert "HTTPRoute" in message, "the message says what to do instead"


def test_the_namespaces_allowed_a_load_balancer_are_configurable() -> None:
    """If this fails, a stack that renames the gateway namespace cannot tell the pack."""
    props = service("ingress", "LoadBalancer")
    config = {"allowedNamespaces": ["ingress"]}
    assert check_resource(LOAD_BALANCER_ONLY_FOR_GATEWAY, SERVICE, props, config=config) == []
    assert check_resource(LOAD_BALANCER_ONLY_FOR_GATEWAY, SERVICE, props) != []
