"""No role may write Endpoints or EndpointSlices.

A Service without a selector plus hand-written endpoints points the Service, and any HTTPRoute to it,
at whatever address the writer chooses, including another namespace's pods: the pattern behind
CVE-2021-25740, why Kubernetes removed endpoints write from its built-in roles. The controllers that
maintain endpoints have their own cluster roles; nothing the platform declares needs the right.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from event_platform_policies.kubernetes import as_list, get
from event_platform_policies.rules import resource_policy

ROLE_TYPES = ("kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
WRITE_VERBS = {"create", "update", "patch", "*"}
TARGETS = {("", "endpoints"), ("discovery.k8s.io", "endpointslices")}


def endpoint_writes(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if resource_type not in ROLE_TYPES:
        return
    for i, rule in enumerate(as_list(get(props, "rules"))):
        groups = {str(g) for g in as_list(get(rule, "apiGroups"))}
        resources = {str(r) for r in as_list(get(rule, "resources"))}
        verbs = {str(v) for v in as_list(get(rule, "verbs"))} & WRITE_VERBS
        hits = [r for g, r in TARGETS if ({g, "*"} & groups) and ({r, "*"} & resources)]
        if verbs and hits:
            yield (f"rule {i} grants {', '.join(sorted(verbs))} on {', '.join(hits)}; expected read-only "
                   "access (get, list, watch) at most")


NO_ENDPOINTS_WRITE = resource_policy(
    "no-endpoints-write",
    "No Role or ClusterRole may write Endpoints or EndpointSlices (CVE-2021-25740).",
    endpoint_writes,
    remediation="Drop create/update/patch on endpoints and endpointslices; Services with selectors get "
                "their endpoints from the control plane.")
