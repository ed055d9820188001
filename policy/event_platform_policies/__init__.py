"""The event platform's policies, served by `policy/__main__.py` as the policy pack PACK_NAME.

| policy | kind | what it rejects |
|---|---|---|
| images-pinned | resource | a container image without a tag, with `latest`, and no digest |
| containers-have-requests-and-limits | resource | a container without cpu/memory requests or a memory limit |
| containers-have-probes | resource | a long-running container without liveness and readiness probes |
| no-privileged-or-host-access | resource | privileged, host namespaces, hostPath, PSA `privileged` outside `monitoring` |
| load-balancer-only-for-gateway | resource | a Service of type LoadBalancer outside the gateway namespace |
| no-endpoints-write | resource | a Role or ClusterRole granting write on endpoints or endpointslices |
| secrets-not-literal | stack | a Secret whose data does not come from a generated value |
| app-namespaces-guarded | stack | an app namespace without a ResourceQuota and a default-deny NetworkPolicy |
"""

from __future__ import annotations

from event_platform_policies.exposure import LOAD_BALANCER_ONLY_FOR_GATEWAY
from event_platform_policies.rbac import NO_ENDPOINTS_WRITE
from event_platform_policies.secrets import SECRETS_NOT_LITERAL
from event_platform_policies.tenancy import APP_NAMESPACES_GUARDED
from event_platform_policies.workloads import IMAGES_PINNED, NO_HOST_ACCESS, PROBES_PRESENT, REQUESTS_AND_LIMITS

PACK_NAME = "event-platform-guardrails"

RESOURCE_POLICIES = (IMAGES_PINNED, REQUESTS_AND_LIMITS, PROBES_PRESENT, NO_HOST_ACCESS,
                     LOAD_BALANCER_ONLY_FOR_GATEWAY, NO_ENDPOINTS_WRITE)
STACK_POLICIES = (SECRETS_NOT_LITERAL, APP_NAMESPACES_GUARDED)
POLICIES = RESOURCE_POLICIES + STACK_POLICIES
