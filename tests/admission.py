"""ValidatingAdmissionPolicies evaluated the way the API server does, over a Recording (any stack).

For a request (object, operation, user) in a namespace: every binding whose `matchResources`
namespaceSelector selects the namespace's labels brings in its policy; the policy applies when one of
its `matchConstraints.resourceRules` names the request's group, resource and operation; its `variables`
are evaluated in order (each may use the ones before it, as `variables.<name>`) and each validation
must evaluate to true. An expression that cannot be evaluated refuses the request (`failurePolicy:
Fail`). Kubernetes: staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/validating (dispatcher.go,
validator.go); the CEL is evaluated by cel-python, which has core CEL only, as the policies are written.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import celpy

from event_platform import labels, offline
from gateway_ownership import selector_matches

KIND_RESOURCES = {
    "Pod": ("", "pods"), "ReplicationController": ("", "replicationcontrollers"), "Service": ("", "services"),
    "Endpoints": ("", "endpoints"), "Deployment": ("apps", "deployments"), "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"), "ReplicaSet": ("apps", "replicasets"), "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"), "EndpointSlice": ("discovery.k8s.io", "endpointslices"),
}
"""Group and resource of the kinds the policies match (their REST mapping)."""

_ENV = celpy.Environment()


@functools.cache
def program(expression: str) -> Any:
    return _ENV.program(_ENV.compile(expression))


@dataclass(frozen=True)
class Request:
    """An AdmissionRequest's fields the policies read."""

    obj: dict | None
    operation: str = "CREATE"
    username: str = "alice@example.com"
    groups: tuple[str, ...] = ("event-platform-developers", "system:authenticated")
    subresource: str = ""
    old: dict | None = field(default=None)

    @property
    def kind(self) -> str:
        return (self.obj or self.old or {})["kind"]

    @property
    def namespace(self) -> str:
        return ((self.obj or self.old or {}).get("metadata") or {}).get("namespace", "default")

    def activation(self) -> dict[str, Any]:
        source = self.obj or self.old or {}
        api_version = source.get("apiVersion", "v1")
        group, _, version = api_version.rpartition("/")
        return {
            "object": self.obj, "oldObject": self.old,
            "request": {"kind": {"group": group, "version": version, "kind": self.kind},
                        "operation": self.operation, "subResource": self.subresource, "namespace": self.namespace,
                        "name": (source.get("metadata") or {}).get("name", ""),
                        "userInfo": {"username": self.username, "groups": list(self.groups)}},
        }


def _rule_matches(rule: dict, group: str, resource: str, operation: str) -> bool:
    return ({group, "*"} & set(rule.get("apiGroups", []))) != set() \
        and ({resource, "*"} & set(rule.get("resources", []))) != set() \
        and ({operation, "*"} & set(rule.get("operations", []))) != set()


def applies(policy: dict, request: Request) -> bool:
    group, resource = KIND_RESOURCES.get(request.kind, (None, None))
    if resource is None:
        return False
    if request.subresource:
        resource = f"{resource}/{request.subresource}"
    return any(_rule_matches(r, group, resource, request.operation)
               for r in policy["spec"]["matchConstraints"]["resourceRules"])


def _evaluate(expression: str, activation: dict[str, Any]) -> Any:
    return program(expression).evaluate({k: celpy.json_to_cel(v) for k, v in activation.items()})


def refusals(policy: dict, request: Request) -> list[str]:
    """The messages of every validation of `policy` that does not hold for `request`."""
    activation = request.activation()
    variables: dict[str, Any] = {}
    broken: dict[str, str] = {}
    for var in policy["spec"].get("variables") or []:
        try:
            variables[var["name"]] = _evaluate(var["expression"], {**activation, "variables": variables})
        except celpy.CELEvalError as err:
            broken[var["name"]] = str(err.args[0])[:200]
    out = []
    for validation in policy["spec"]["validations"]:
        used = [name for name in broken if f"variables.{name}" in validation["expression"]]
        if used:
            out.append(f"{validation['message']} (variable {used[0]} cannot be evaluated: {broken[used[0]]})")
            continue
        try:
            result = _evaluate(validation["expression"], {**activation, "variables": variables})
        except celpy.CELEvalError as err:
            out.append(f"{validation['message']} (cannot be evaluated: {str(err.args[0])[:200]})")
            continue
        if not isinstance(result, celpy.celtypes.BoolType):
            out.append(f"{validation['message']} (evaluated to {result!r}, not a bool)")
        elif not result:
            out.append(validation["message"])
    return out


def namespace_labels(rec: offline.Recording) -> dict[str, dict[str, str]]:
    return {ns.k8s_name: {**(ns.metadata.get("labels") or {}), labels.NAMESPACE_NAME: ns.k8s_name}
            for ns in rec.objects("Namespace")}


def bound_policies(rec: offline.Recording, namespace: str) -> list[dict]:
    """The policies whose Deny binding selects `namespace`."""
    ns_labels = namespace_labels(rec).get(namespace, {labels.NAMESPACE_NAME: namespace})
    policies = {p.k8s_name: p.plain for p in rec.objects("ValidatingAdmissionPolicy")}
    out = []
    for binding in rec.objects("ValidatingAdmissionPolicyBinding"):
        spec = binding.plain["spec"]
        selector = (spec.get("matchResources") or {}).get("namespaceSelector") or {}
        if "Deny" in spec["validationActions"] and selector_matches(selector, ns_labels):
            out.append(policies[spec["policyName"]])
    return out


def admit(rec: offline.Recording, request: Request) -> list[str]:
    """`policy: message` for every refusal the API server would give `request`; empty: admitted."""
    return [f"{policy['metadata']['name']}: {message}" for policy in bound_policies(rec, request.namespace)
            if applies(policy, request) for message in refusals(policy, request)]


def pod_of(workload: dict) -> dict:
    """The Pod a workload controller makes from its template (what the ReplicaSet, StatefulSet or Job
    controller sends to the API server, admission included)."""
    spec = workload["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob" else spec["template"]
    meta = {**(template.get("metadata") or {}), "name": f"{workload['metadata']['name']}-x",
            "namespace": workload["metadata"].get("namespace", "default")}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}
