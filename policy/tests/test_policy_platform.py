"""The platform passes its own policies: every resource of both stacks, as the mocks record them, is
fed to every resource policy, and each whole stack to every stack policy.

What the recording gives and the engine would give alike: each resource's type token, logical name,
URN and inputs (secret marks removed, as pulumi-policy removes them). What differs: the recording
keeps a resource's dependencies, not per-property ones, so each data-carrying property is given all
of them here (the engine is stricter; test_policy_secrets.py covers the per-property rule). Helm
releases are opaque here as under the engine: their objects come from Helm.
"""

from __future__ import annotations

import pytest
from pulumi_policy import PolicyResource

from event_platform import offline
from event_platform_policies import RESOURCE_POLICIES, STACK_POLICIES
from event_platform_policies.testing import check_resource, check_stack, stack_resource

pytestmark = pytest.mark.parametrize("stack", ["dev", "prod"])


def policy_resources(recording: offline.Recording) -> list[PolicyResource]:
    """The recording as a stack policy sees it."""
    resources: dict[str, PolicyResource] = {}
    for r in recording:  # dependencies are registered before their dependents
        deps = [resources[urn] for urn in r.dependencies if urn in resources]
        resources[r.urn] = stack_resource(r.type, r.plain, name=r.name, urn=r.urn, dependencies=deps,
                                          property_dependencies={key: deps for key in r.inputs})
    return list(resources.values())


def test_every_declared_resource_passes_every_resource_policy(stack: str, recordings) -> None:
    """If this fails, `pulumi preview --policy-pack policy` of this stack fails: a component declares a
    workload, Service or Namespace that breaks a rule (the message says which and why)."""
    recording = recordings[stack]
    checked = [r for r in recording if r.custom and r.type.startswith("kubernetes:")]
    assert checked, "the recording holds Kubernetes resources"
    violations = [message for r in checked for policy in RESOURCE_POLICIES
                  for message in check_resource(policy, r.type, r.plain, name=r.name)]
    assert violations == [], "\n".join(violations)


def test_the_whole_stack_passes_every_stack_policy(stack: str, recordings) -> None:
    """If this fails, an app namespace lost its guards or a Secret carries literal data."""
    resources = policy_resources(recordings[stack])
    violations = [message for policy in STACK_POLICIES for message, _ in check_stack(policy, resources)]
    assert violations == [], "\n".join(violations)


def test_the_platform_gives_the_stack_policies_something_to_judge(stack: str, recordings) -> None:
    """If this fails, the two tests above pass vacuously: no app namespace or guard was recorded."""
    recording = recordings[stack]
    assert recording.objects("Namespace") and recording.objects("ResourceQuota")
    assert recording.objects("NetworkPolicy")
