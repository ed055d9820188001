"""Guardrails the API server enforces on tenants, whoever sends the request: ValidatingAdmissionPolicies
(admissionregistration.k8s.io/v1, built into Kubernetes since 1.30; no extra engine) and one binding
each, selecting the tenant namespaces by label.

The policy pack (policy/) guards what `pulumi up` declares; a developer with kubectl, or a controller
acting for one, never meets it. These policies repeat the pack's rules that concern tenants' objects
at admission: no privileged pods, host namespaces or hostPath; pinned images (a tag that is not
`latest`, or a digest); requests and a memory limit on every container; no Service `externalIPs`
(CVE-2020-8554) and no NodePort/LoadBalancer Service (the Gateway is the one front door); no writes of
Endpoints or EndpointSlices (CVE-2021-25740) except by the control plane's own controllers.

The CEL below is core CEL only, on purpose: the `has`/`all` macros, `size`, `in`, `matches`,
`startsWith`, `+` on lists and the ternary; none of Kubernetes' CEL library extensions (no `split`,
`lowerAscii`, `quantity`, `url`, `isSorted`...) and no optional syntax (`?.`, `orValue`). That is the
CEL both the API server and cel-python understand, so tests/test_admission.py evaluates exactly these
expressions on every object the stacks render and on crafted bad ones. `matches` is RE2 in the API
server and Python's `re` in the tests: the patterns use only what both read alike (anchors, classes,
counted repetition; no look-around, no backreferences).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels

API_VERSION = "admissionregistration.k8s.io/v1"
POLICY_PREFIX = "tenant-"
"""Every policy and binding is named `tenant-<rule>`."""

WORKLOAD_RULES = (
    {"apiGroups": [""], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
     "resources": ["pods", "pods/ephemeralcontainers", "replicationcontrollers"]},
    {"apiGroups": ["apps"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
     "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"]},
    {"apiGroups": ["batch"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
     "resources": ["jobs", "cronjobs"]},
)
"""Pods, and everything that makes pods from a template: a refused Deployment is refused at `kubectl
apply`, not later and silently in its ReplicaSet's events."""

# The pod spec wherever the kind keeps it (request.kind is the AdmissionRequest's, always present).
POD_VARIABLES = (
    {"name": "podSpec", "expression": (
        "request.kind.kind == 'Pod' ? object.spec : "
        "(request.kind.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)")},
    {"name": "workContainers", "expression": (
        "(has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []) + "
        "variables.podSpec.containers")},
    {"name": "allContainers", "expression": (
        "variables.workContainers + "
        "(has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : [])")},
)

CONTROL_PLANE_WRITERS = ("system:kube-controller-manager", "system:apiserver")
"""Who besides kube-system's service accounts (the endpoint, endpointslice, mirroring, namespace and
garbage-collector controllers, with `--use-service-account-credentials` as kubeadm, kind and the
managed clusters run them) writes Endpoints and EndpointSlices."""


@dataclass(frozen=True)
class Check:
    """One validation: a CEL expression that holds for an admitted object, and the refusal's message."""

    expression: str
    message: str


@dataclass(frozen=True)
class Rule:
    """One ValidatingAdmissionPolicy: what it matches and each check with its message."""

    name: str
    resource_rules: tuple[dict, ...]
    validations: tuple[Check, ...]
    variables: tuple[dict, ...] = ()


_ANY = "variables.allContainers.all(c, "
RULES = (
    Rule("no-privileged-or-host-access", WORKLOAD_RULES, variables=POD_VARIABLES, validations=(
        Check(_ANY + "!(has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged))",
              "privileged containers are not allowed in tenant namespaces (securityContext.privileged): one reaches "
              "everything on its node"),
        Check("!(has(variables.podSpec.hostNetwork) && variables.podSpec.hostNetwork) && "
              "!(has(variables.podSpec.hostPID) && variables.podSpec.hostPID) && "
              "!(has(variables.podSpec.hostIPC) && variables.podSpec.hostIPC)",
              "host namespaces are not allowed in tenant namespaces (hostNetwork, hostPID, hostIPC)"),
        Check("!has(variables.podSpec.volumes) || variables.podSpec.volumes.all(v, !has(v.hostPath))",
              "hostPath volumes are not allowed in tenant namespaces: they read and write the node's files"),
    )),
    Rule("images-pinned", WORKLOAD_RULES, variables=POD_VARIABLES, validations=(
        Check(_ANY + "has(c.image) && (c.image.matches('@sha256:[0-9a-f]{64}$') || "
              "c.image.matches('^([^/]+/)*[^/:@]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')))",
              "every image names a version tag or a digest (registry/app:1.4.2): without one it pulls the moving "
              "tag latest"),
        Check(_ANY + "!has(c.image) || c.image.matches('@sha256:[0-9a-f]{64}$') || !c.image.matches(':latest$'))",
              "no image may use the tag latest: it moves, so a rollout is not reproducible; pin a version or a "
              "digest"),
    )),
    Rule("resources-set", WORKLOAD_RULES, variables=POD_VARIABLES, validations=(
        Check("variables.workContainers.all(c, has(c.resources) && has(c.resources.requests) && "
              "'cpu' in c.resources.requests && 'memory' in c.resources.requests && "
              "has(c.resources.limits) && 'memory' in c.resources.limits)",
              "every container and init container sets resources.requests.cpu, resources.requests.memory and "
              "resources.limits.memory: the scheduler and the quota need them"),
    )),
    Rule("services-internal", ({"apiGroups": [""], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                                "resources": ["services"]},), validations=(
        Check("!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
              "Services in tenant namespaces may not set spec.externalIPs: they intercept traffic to any address "
              "(CVE-2020-8554)"),
        Check("!has(object.spec.type) || !(object.spec.type in ['NodePort', 'LoadBalancer'])",
              "Services in tenant namespaces are ClusterIP (or ExternalName): NodePort and LoadBalancer open a way "
              "in beside the Gateway; publish through an HTTPRoute"),
    )),
    Rule("no-endpoints-write", (
        {"apiGroups": [""], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE", "DELETE"],
              "resources": ["endpoints"]},
        {"apiGroups": ["discovery.k8s.io"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE", "DELETE"],
              "resources": ["endpointslices"]}), validations=(
        Check("request.userInfo.username.startsWith('system:serviceaccount:kube-system:') || "
              f"request.userInfo.username in {list(CONTROL_PLANE_WRITERS)!r}",
              "only the control plane writes Endpoints and EndpointSlices in tenant namespaces: hand-written "
              "endpoints publish other namespaces' pods (CVE-2021-25740)"),
    )),
)


def policy_spec(rule: Rule) -> dict:
    spec: dict = {
        # an expression that cannot be evaluated refuses the request rather than letting it through
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": [dict(r) for r in rule.resource_rules]},
        "validations": [{"expression": c.expression, "message": c.message, "reason": "Forbidden"}
                        for c in rule.validations],
    }
    if rule.variables:
        spec["variables"] = [dict(v) for v in rule.variables]
    return spec


class AdmissionPoliciesArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_selector: dict
    """LabelSelector of the tenant namespaces the bindings apply to. Required: platform namespaces
    (node-exporter's host access in `monitoring`) must stay out of it."""
    rules: tuple[Rule, ...] = RULES
    """Omitted: every rule of RULES."""


class AdmissionPolicies(pulumi.ComponentResource):
    """A ValidatingAdmissionPolicy per rule, each with a Deny binding to the tenant namespaces."""

    policies: dict[str, k8s.admissionregistration.v1.ValidatingAdmissionPolicy]
    bindings: dict[str, k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding]

    def __init__(self, name: str, args: AdmissionPoliciesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:tenancy:AdmissionPolicies", name, None, opts)
        self.policies, self.bindings = {}, {}
        for rule in args.rules:
            object_name = f"{POLICY_PREFIX}{rule.name}"
            meta = {"name": object_name, "labels": labels.common(object_name, "admission")}
            policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
              f"{name}-{rule.name}", metadata=meta, spec=policy_spec(rule),
                opts=pulumi.ResourceOptions(parent=self))
            self.policies[rule.name] = policy
            self.bindings[rule.name] = k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
              f"{name}-{rule.name}-binding", metadata=meta,
                spec={"policyName": object_name, "validationActions": ["Deny"],
                      "matchResources": {"namespaceSelector": dict(args.tenant_selector)}},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))
        self.register_outputs({"policies": [f"{POLICY_PREFIX}{r.name}" for r in args.rules]})
