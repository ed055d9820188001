"""Running the policies without a Pulumi engine: what the pack's tests use.

The arguments are pulumi-policy's own `ResourceValidationArgs` and `PolicyResource`, with the props
wrapped in the same unknown-checking proxy the SDK wraps them in, so a policy that works here reads
the props exactly as it will under `pulumi preview`. Put `UNKNOWN` in a prop to play a value that
is unknown during preview.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

UNKNOWN = UNKNOWN_STRING_VALUE
"""The engine's marker of a string not known yet (what an image digest is before the build)."""


def urn_of(resource_type: str, name: str) -> str:
    return f"urn:pulumi:test::event-platform::{resource_type}::{name}"


def check_resource(policy: ResourceValidationPolicy, resource_type: str, props: Mapping[str, Any], *,
                   name: str = "example", config: Mapping[str, Any] | None = None) -> list[str]:
    """The violation messages `policy` reports for one resource."""
    messages, unknown = check_resource_in_preview(policy, resource_type, props, name=name, config=config)
    if unknown is not None:
        raise unknown
    return messages


def check_resource_in_preview(policy: ResourceValidationPolicy, resource_type: str, props: Mapping[str, Any], *,
                              name: str = "example", config: Mapping[str, Any] | None = None,
                              ) -> tuple[list[str], UnknownValueError | None]:
    """The violation messages, and the "cannot check during preview" signal the policy raised (which
    pulumi-policy reports as an advisory note), for props that may hold `UNKNOWN` values."""
    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(copy.deepcopy(dict(props))),
                                  urn_of(resource_type, name), name, opts=None, provider=None,  # type: ignore[arg-type]
                                  config=dict(config or {}))
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    try:
        result = policy.validate(args, report)
    except UnknownValueError as unknown:
        return messages, unknown
    assert result is None, "the pack's validations are synchronous"
    return messages, None


def stack_resource(resource_type: str, props: Mapping[str, Any], *, name: str, urn: str | None = None,
                   property_dependencies: Mapping[str, Sequence[PolicyResource]] | None = None,
                   dependencies: Sequence[PolicyResource] = ()) -> PolicyResource:
    """A resource as a stack policy sees it."""
    return PolicyResource(resource_type, unknown_checking_proxy(copy.deepcopy(dict(props))),
                          urn or urn_of(resource_type, name), name,
                          opts=None, provider=None, parent=None,  # type: ignore[arg-type]
                          dependencies=list(dependencies),
                          property_dependencies={k: list(v) for k, v in (property_dependencies or {}).items()})


def check_stack(policy: StackValidationPolicy, resources: Sequence[PolicyResource],
                config: Mapping[str, Any] | None = None) -> list[tuple[str, str | None]]:
    """The `(message, urn)` violations `policy` reports for a whole stack."""
    violations: list[tuple[str, str | None]] = []

    def report(message: str, urn: str | None = None) -> None:
        violations.append((message, urn))

    result = policy.validate(StackValidationArgs(list(resources), dict(config or {})), report)
    assert result is None, "the pack's validations are synchronous"
    return violations


# ------------------------------------------------------------------ examples the tests start from
API_VERSIONS = {"Pod": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
                "ReplicaSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1"}


def good_container(name: str = "app", **overrides: Any) -> dict[str, Any]:
    """A container every workload rule accepts; `overrides` replace (or, as None, remove) fields."""
    container: dict[str, Any] = {
        "name": name,
        "image": "registry.example.com/platform/app:1.4.2",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "livenessProbe": {"httpGet": {"path": "/livez", "port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
    }
    for key, value in overrides.items():
        if value is None:
            container.pop(key, None)
        else:
            container[key] = value
    return container


def workload(kind: str = "Deployment", *, containers: Sequence[Mapping[str, Any]] | None = None,
             namespace: str = "dev", name: str = "app", **pod_fields: Any) -> tuple[str, dict[str, Any]]:
    """`(type token, props)` of a workload of `kind` whose pod spec has `containers` and `pod_fields`."""
    pod_spec = {"containers": [dict(c) for c in (containers or [good_container()])], **pod_fields}
    spec: dict[str, Any]
    if kind == "Pod":
        spec = pod_spec
    elif kind == "CronJob":
        spec = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": pod_spec}}}}
    else:
        spec = {"template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}
    api_version = API_VERSIONS[kind]
    group = "core/v1" if api_version == "v1" else api_version
    return (f"kubernetes:{group}:{kind}",
            {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec})


def assert_names_resource_and_rule(messages: Sequence[str], *, rule: str, names: Sequence[str]) -> str:
    """The single message reported, after checking it names the rule and every name in `names`."""
    assert len(messages) == 1, f"expected one violation, got {messages!r}"
    message = messages[0]
    assert f"rule '{rule}'" in message, message
    for name in names:
        assert name in message, f"{name!r} not named in: {message}"
    return message
