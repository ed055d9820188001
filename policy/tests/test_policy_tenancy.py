"""Every app namespace is guarded: ResourceQuota and default-deny NetworkPolicy in it."""

from __future__ import annotations

import pytest

from event_platform_policies.tenancy import APP_NAMESPACES_GUARDED, ENVIRONMENT_LABEL
from event_platform_policies.testing import UNKNOWN, check_stack, stack_resource

NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEFAULT_DENY = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def app_namespace(name: str = "staging"):
    return stack_resource(NAMESPACE, {"metadata": {"name": name, "labels": {ENVIRONMENT_LABEL: name}}},
                          name=f"tenancy-{name}-namespace")


def quota(namespace: str = "staging"):
    return stack_resource(QUOTA, {"metadata": {"name": "environment-quota", "namespace": namespace},
                                  "spec": {"hard": {"pods": "50"}}}, name=f"tenancy-{namespace}-quota")


def network_policy(spec: dict, namespace: str = "staging", name: str = "default-deny"):
    return stack_resource(NETWORK_POLICY, {"metadata": {"name": name, "namespace": namespace}, "spec": spec},
                          name=f"tenancy-{namespace}-{name}")


def test_an_app_namespace_with_a_quota_and_a_default_deny_policy_passes() -> None:
    """If this fails, the tenancy component's namespaces are rejected."""
    allow_dns = network_policy({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 53}]}]},
                               name="allow-dns")
    assert check_stack(APP_NAMESPACES_GUARDED,
                       [app_namespace(), quota(), network_policy(DEFAULT_DENY), allow_dns]) == []


@pytest.mark.parametrize("present, missing", [
    ("policy", "no ResourceQuota"),
    ("quota", "no default-deny NetworkPolicy"),
])
def test_an_app_namespace_missing_a_guard_is_rejected(present: str, missing: str) -> None:
    """If this fails, one environment can starve the others (no quota) or reach anything (no deny)."""
    namespace = app_namespace()
    guard = quota() if present == "quota" else network_policy(DEFAULT_DENY)
    violations = check_stack(APP_NAMESPACES_GUARDED, [namespace, guard])
    assert len(violations) == 1
    message, urn = violations[0]
    assert urn == namespace.urn
    for named in ("Namespace 'staging'", "tenancy-staging-namespace", "rule 'app-namespaces-guarded'", missing):
        assert named in message, named


@pytest.mark.parametrize("spec", [
    {"podSelector": {}, "policyTypes": ["Ingress"]},
    {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress", "Egress"]},
    {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}]},
])
def test_a_network_policy_that_is_not_a_full_default_deny_does_not_count(spec: dict) -> None:
    """If this fails, an ingress-only deny, a deny for some pods, or an allow-all passes as a deny."""
    violations = check_stack(APP_NAMESPACES_GUARDED, [app_namespace(), quota(), network_policy(spec)])
    assert len(violations) == 1 and "no default-deny NetworkPolicy" in violations[0][0]


def test_guards_in_another_namespace_do_not_count() -> None:
    """If this fails, production's quota would guard staging too."""
    violations = check_stack(APP_NAMESPACES_GUARDED, [app_namespace("staging"), quota("production"),
                                                      network_policy(DEFAULT_DENY, namespace="production")])
    assert len(violations) == 1


def test_namespaces_without_the_environment_label_need_no_guards() -> None:
    """If this fails, platform namespaces (gateway, monitoring) are held to the app rule."""
    platform = stack_resource(NAMESPACE, {"metadata": {"name": "monitoring"}}, name="tenancy-monitoring")
    assert check_stack(APP_NAMESPACES_GUARDED, [platform]) == []


def test_a_guard_whose_namespace_is_unknown_during_preview_makes_the_rule_wait() -> None:
    """If this fails, a first preview reports a missing quota that is only not placed yet."""
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError):
        check_stack(APP_NAMESPACES_GUARDED, [app_namespace(), quota(UNKNOWN), network_policy(DEFAULT_DENY)])
