"""No role writes Endpoints or EndpointSlices (issue 12, item 2)."""

from __future__ import annotations

import pytest

from event_platform_policies.rbac import NO_ENDPOINTS_WRITE
from event_platform_policies.testing import assert_names_resource_and_rule, check_resource

ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"


def role(*rules: dict) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "developer", "namespace": "staging"}, "rules": list(rules)}


def test_reading_endpoints_passes() -> None:
    """If this fails, the viewer role (which reads endpoints) is rejected."""
    rule = {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch"]}
    assert check_resource(NO_ENDPOINTS_WRITE, ROLE, role(rule)) == []


@pytest.mark.parametrize("rule", [
    {"apiGroups": [""], "resources": ["pods", "endpoints"], "verbs": ["create"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["patch"]},
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
])
def test_writing_endpoints_or_slices_is_rejected_with_the_resource_named(rule: dict) -> None:
    """If this fails, a developer role may point a Service at another namespace's pods."""
    messages = check_resource(NO_ENDPOINTS_WRITE, ROLE, role(rule), name="tenancy-staging-developer-role")
    assert_names_resource_and_rule(messages, rule="no-endpoints-write",
                                   names=("Role 'staging/developer'", "tenancy-staging-developer-role"))
