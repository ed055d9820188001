"""Every app namespace is guarded: a ResourceQuota and a default-deny NetworkPolicy live in it.

App namespaces are the ones labelled `event-platform.io/environment` (platform/event_platform/
labels.py ENVIRONMENT; the pack runs outside the platform's code, so the key is repeated here and
a test keeps the two equal). A stack policy, because the rule is about objects existing together.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from event_platform_policies.kubernetes import (
    NAMESPACE,
    NETWORK_POLICY,
    RESOURCE_QUOTA,
    Unknowns,
    as_list,
    describe,
    get,
    namespace,
)
from event_platform_policies.rules import stack_policy, violation

RULE = "app-namespaces-guarded"
ENVIRONMENT_LABEL = "event-platform.io/environment"


def is_default_deny(props: Mapping[str, Any]) -> bool:
    """Selects every pod (empty podSelector), covers both directions, and allows nothing."""
    selector = get(props, "spec", "podSelector")
    selects_all = selector is None or (isinstance(selector, Mapping) and not get(selector, "matchLabels")
                                       and not get(selector, "matchExpressions"))
    types = {str(t) for t in as_list(get(props, "spec", "policyTypes"))}
    allows_nothing = not as_list(get(props, "spec", "ingress")) and not as_list(get(props, "spec", "egress"))
    return selects_all and {"Ingress", "Egress"} <= types and allows_nothing


def unguarded_app_namespaces(resources: Sequence[PolicyResource],
                             config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    apps: dict[str, PolicyResource] = {}
    quotas: set[str] = set()
    denies: set[str] = set()
    unknowns = Unknowns()
    for resource in resources:
        with unknowns.tolerated():
            if resource.resource_type == NAMESPACE and get(resource.props, "metadata", "labels", ENVIRONMENT_LABEL):
                apps[str(get(resource.props, "metadata", "name"))] = resource
            elif resource.resource_type == RESOURCE_QUOTA:
                quotas.add(namespace(resource.props))
            elif resource.resource_type == NETWORK_POLICY and is_default_deny(resource.props):
                denies.add(namespace(resource.props))
    # Not knowing where a quota or policy lives (preview) is not knowing whether one is missing.
    unknowns.raise_if_any()
    for name, resource in sorted(apps.items()):
        missing = []
        if name not in quotas:
            missing.append("no ResourceQuota")
        if name not in denies:
            missing.append("no default-deny NetworkPolicy (empty podSelector, policyTypes Ingress and Egress, "
                           "no rules)")
        if missing:
            where = describe(resource.resource_type, resource.props, resource.name)
            yield violation(where, RULE, (
                f"is an app namespace (label {ENVIRONMENT_LABEL}) with {' and '.join(missing)}; one environment "
                "could starve the others or reach anything")), resource.urn


APP_NAMESPACES_GUARDED = stack_policy(
    RULE,
    f"Every app namespace (label {ENVIRONMENT_LABEL}) has a ResourceQuota and a default-deny NetworkPolicy "
    "for ingress and egress.",
    unguarded_app_namespaces,
    remediation="Declare app namespaces through the tenancy component (AppNamespace), which adds both.")
