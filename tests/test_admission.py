"""Guardrails kubectl cannot skip: the ValidatingAdmissionPolicies of components/admission.py, read from
each stack's render and evaluated with cel-python the way the API server evaluates them
(tests/admission.py). Every object the stacks put into a tenant namespace, and every pod their
workloads make, is admitted; each crafted bad object is refused by exactly the policy meant for it,
with that policy's message."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import pytest

import admission
from event_platform.components.admission import RULES
from event_platform_policies.workloads import image_problem
from harness import stack_config

RULE_NAMES = {f"tenant-{r.name}" for r in RULES}


def app_namespaces(rec) -> set[str]:
    return {r.k8s_name for r in rec.objects("Namespace")
            if r.metadata["labels"].get("app.kubernetes.io/component") == "app-namespace"}


def test_each_policy_is_rendered_with_a_deny_binding_that_selects_exactly_the_tenant_namespaces(
        every_recording) -> None:
    """If this fails, a policy is not enforced (no binding, or Audit only), or it binds a platform
    namespace (node-exporter's host access in `monitoring` would be refused and the stack stalls)."""
    rec = every_recording
    assert {p.k8s_name for p in rec.objects("ValidatingAdmissionPolicy")} == RULE_NAMES
    assert {b.plain["spec"]["policyName"] for b in rec.objects("ValidatingAdmissionPolicyBinding")} == RULE_NAMES
    for namespace in admission.namespace_labels(rec):
        bound = {p["metadata"]["name"] for p in admission.bound_policies(rec, namespace)}
        assert bound == (RULE_NAMES if namespace in app_namespaces(rec) else set()), namespace
    assert app_namespaces(rec) >= set(stack_config(rec.stack).namespaces.app_names)


def cnpg_instance_pod(cluster: dict) -> dict:
    """An instance pod as CloudNativePG makes it: `spec.resources` on the postgres container and on the
    bootstrap-controller init container (cloudnative-pg pkg/specs/pods.go, as event_platform/capacity.py
    counts them), the Cluster's image, and the operator's own image for the init container (chart
    values.yaml `image.repository`, tag defaulting to the chart's appVersion 1.30.0)."""
    spec = cluster["spec"]
    resources = spec["resources"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{cluster['metadata']['name']}-1", "namespace": cluster["metadata"]["namespace"]},
            "spec": {"containers": [{"name": "postgres", "image": spec["imageName"], "resources": resources}],
                     "initContainers": [{"name": "bootstrap-controller", "resources": resources,
                                         "image": "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0"}]}}


def tenant_requests(rec) -> list[admission.Request]:
    """Every object the stack declares in a tenant namespace, and the pods its workloads make."""
    out = []
    for obj in rec.objects():
        if obj.namespace not in app_namespaces(rec):
            continue
        out.append(admission.Request(obj.plain))
        if obj.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"):
            out.append(admission.Request(admission.pod_of(obj.plain), username="system:serviceaccount:kube-system:x"))
        if obj.kind == "Cluster":
            out.append(admission.Request(cnpg_instance_pod(obj.plain),
                                         username="system:serviceaccount:cnpg-system:cloudnative-pg"))
    return out


def test_every_object_the_stack_renders_into_a_tenant_namespace_is_admitted(every_recording) -> None:
    """If this fails, `pulumi up` (or the operator, or the ReplicaSet controller) is refused by the
    platform's own policy: the stack cannot come up."""
    rec = every_recording
    requests = tenant_requests(rec)
    checked = [r for r in requests if any(admission.applies(p, r) for p in admission.bound_policies(rec, r.namespace))]
    kinds = {r.kind for r in checked}
    assert {"Deployment", "StatefulSet", "Pod", "Service"} <= kinds, kinds
    refused = {f"{r.kind} {r.namespace}/{r.obj['metadata']['name']}": found
               for r in requests if (found := admission.admit(rec, r))}
    assert refused == {}


# ------------------------------------------------------------------------------- crafted bad objects
@pytest.fixture(scope="module")
def dev(recordings):
    return recordings["dev"]


def deployment(rec) -> dict:
    return copy.deepcopy(rec.object("Deployment", "collector", "dev").plain)


def pod_spec(obj: dict) -> dict:
    return obj["spec"] if obj["kind"] == "Pod" else admission.pod_of(obj)["spec"]


def container(obj: dict) -> dict:
    return pod_spec(obj)["containers"][0]


def as_kind(obj: dict, kind: str) -> dict:
    """The Deployment's pod template inside another kind of workload."""
    template = obj["spec"]["template"]
    meta = {"name": "crafted", "namespace": "dev"}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}
    if kind == "CronJob":
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}
    api = {"StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1"}[kind]
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": {"template": template}}


def with_(mutate: Callable[[dict], None], kind: str = "Deployment") -> Callable[[dict], dict]:
    def build(base: dict) -> dict:
        obj = base if kind == "Deployment" else as_kind(base, kind)
        mutate(obj)
        return obj
    return build


def _set(path: str, value) -> Callable[[dict], None]:
    def mutate(obj: dict) -> None:
        target = pod_spec(obj)
        *parents, last = path.split(".")
        for key in parents:
            target = target.setdefault(key, {}) if not key.isdigit() else target[int(key)]
        target[last] = value
    return mutate


def _image(image: str) -> Callable[[dict], None]:
    return lambda obj: container(obj).update(image=image)


def _init_without_requests(obj: dict) -> None:
    pod_spec(obj)["initContainers"] = [{"name": "migrate", "image": "ghcr.io/x/migrate:1.0",
                                        "resources": {"limits": {"memory": "64Mi"}}}]


def _ephemeral_privileged(obj: dict) -> None:
    pod_spec(obj)["ephemeralContainers"] = [{"name": "debug", "image": "busybox:1.37",
                                             "securityContext": {"privileged": True}}]


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "crafted", "namespace": "dev"},
           "spec": {"selector": {"app.kubernetes.io/name": "collector"}, "ports": [{"port": 80}]}}
SLICE = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
         "metadata": {"name": "crafted", "namespace": "dev"}, "endpoints": [{"addresses": ["10.1.2.3"]}]}
ENDPOINTS = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "crafted", "namespace": "dev"},
             "subsets": [{"addresses": [{"ip": "10.1.2.3"}]}]}

PRIVILEGED = "tenant-no-privileged-or-host-access: privileged containers"
HOST_NS = "tenant-no-privileged-or-host-access: host namespaces"
HOST_PATH = "tenant-no-privileged-or-host-access: hostPath volumes"
UNTAGGED = "tenant-images-pinned: every image names a version tag or a digest"
LATEST = "tenant-images-pinned: no image may use the tag latest"
RESOURCES = "tenant-resources-set: every container and init container sets"
EXTERNAL_IPS = "tenant-services-internal: Services in tenant namespaces may not set spec.externalIPs"
EXPOSED = "tenant-services-internal: Services in tenant namespaces are ClusterIP"
ENDPOINT_WRITE = "tenant-no-endpoints-write: only the control plane writes Endpoints"

BAD = {
    "privileged-container": (with_(lambda o: container(o).setdefault("securityContext", {}).update(privileged=True)),
                             {}, PRIVILEGED),
    "privileged-ephemeral-container": (with_(_ephemeral_privileged, "Pod"),
                                       {"operation": "UPDATE", "subresource": "ephemeralcontainers"}, PRIVILEGED),
    "host-network": (with_(_set("hostNetwork", True), "Pod"), {}, HOST_NS),
    "host-pid": (with_(_set("hostPID", True), "DaemonSet"), {}, HOST_NS),
    "host-ipc": (with_(_set("hostIPC", True), "Job"), {}, HOST_NS),
    "host-path": (with_(lambda o: pod_spec(o)["volumes"].append({"name": "root", "hostPath": {"path": "/"}}),
                        "StatefulSet"), {}, HOST_PATH),
    "untagged-image": (with_(_image("registry.example.com:5000/team/app")), {}, UNTAGGED),
    "untagged-short-image": (with_(_image("nginx"), "CronJob"), {}, UNTAGGED),
    "latest-image": (with_(_image("ghcr.io/example/app:latest")), {}, LATEST),
    "no-memory-limit": (with_(lambda o: container(o)["resources"].pop("limits")), {}, RESOURCES),
    "init-container-without-requests": (with_(_init_without_requests, "Job"), {}, RESOURCES),
    "external-ips": (lambda _: {**SERVICE, "spec": {**SERVICE["spec"], "externalIPs": ["8.8.8.8"]}}, {}, EXTERNAL_IPS),
    "node-port": (lambda _: {**SERVICE, "spec": {**SERVICE["spec"], "type": "NodePort"}}, {}, EXPOSED),
    "load-balancer": (lambda _: {**SERVICE, "spec": {**SERVICE["spec"], "type": "LoadBalancer"}},
                      {"operation": "UPDATE"}, EXPOSED),
    "endpointslice-by-a-developer": (lambda _: copy.deepcopy(SLICE), {}, ENDPOINT_WRITE),
    "endpoints-by-a-tenant-pod": (lambda _: copy.deepcopy(ENDPOINTS),
                                  {"operation": "UPDATE", "username": "system:serviceaccount:dev:collector"},
                                  ENDPOINT_WRITE),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_crafted_bad_object_is_refused_by_its_policy_with_its_message(dev, case: str) -> None:
    """If this fails, kubectl gets past a guardrail the policy pack only applies to `pulumi up`
    (or a refusal no longer says why)."""
    build, request_fields, expected = BAD[case]
    obj = build(deployment(dev))
    found = admission.admit(dev, admission.Request(obj, **request_fields))
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize(("obj", "fields"), [
    (SLICE, {"username": "system:serviceaccount:kube-system:endpointslice-controller"}),
    (ENDPOINTS, {"username": "system:serviceaccount:kube-system:endpoint-controller", "operation": "UPDATE"}),
    (SLICE, {"username": "system:serviceaccount:kube-system:namespace-controller", "operation": "DELETE"}),
    (ENDPOINTS, {"username": "system:kube-controller-manager"}),
    (SERVICE, {}),
], ids=["endpointslice-controller", "endpoint-controller", "namespace-deletion", "controller-manager",
        "cluster-ip-service"])
def test_the_control_plane_still_writes_endpoints_and_a_plain_service_is_admitted(dev, obj, fields) -> None:
    """If this fails, the policy breaks every Service of the tenants (no endpoints, no traffic) or blocks
    deleting a namespace."""
    assert admission.admit(dev, admission.Request(copy.deepcopy(obj), **fields)) == []


@pytest.mark.parametrize("image", [
    "ghcr.io/example/app:1.4.2", "registry.example.com:5000/team/app:2.0", "app@sha256:" + "a" * 64,
    "ghcr.io/example/app:latest@sha256:" + "b" * 64, "localhost:5001/event-collector", "nginx", "nginx:latest",
    "ghcr.io/example/app:latest", "registry.example.com:5000/app",
])
def test_the_admission_policy_and_the_policy_pack_agree_on_every_image(dev, image: str) -> None:
    """The pack (what `pulumi up` checks) and the API server must agree: a stack the pack admits must not
    be refused at admission, and kubectl must not get past what the pack refuses."""
    found = admission.admit(dev, admission.Request(with_(_image(image))(deployment(dev))))
    assert (found == []) == (image_problem(image) is None), found


CORE_CEL_FUNCTIONS = {"has", "all", "exists", "exists_one", "map", "filter", "size", "matches", "startsWith",
                      "endsWith", "contains", "int", "uint", "double", "string", "bool", "type", "duration",
                      "timestamp"}
"""The functions and macros of the CEL spec's standard definitions, what cel-python implements."""


def test_every_expression_is_core_cel_that_both_the_api_server_and_cel_python_read() -> None:
    """Kubernetes' CEL library extensions (`split`, `lowerAscii`, `quantity`, `url`...) and optional
    syntax (`?.`, `orValue`) run in the API server but not in cel-python, so a policy using them could
    not be proved here. If this fails, an expression left core CEL."""
    expressions = [v["expression"] for r in RULES for v in r.variables] + [c.expression for r in RULES for c in r.validations]
    for expression in expressions:
        code = re.sub(r"'[^']*'", "''", expression)  # calls inside string literals (regexes) are not calls
        assert not re.search(r"\?\.|\.\?|\[\?|orValue|optional", code), expression
        assert set(re.findall(r"([A-Za-z_]\w*)\s*\(", code)) <= CORE_CEL_FUNCTIONS, expression
        admission.program(expression)  # compiles in cel-python
