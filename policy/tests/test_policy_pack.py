"""The pack as Pulumi runs it: its entry point, its PulumiPolicy.yaml, and the policies served through
pulumi-policy's own analyzer service (the gRPC servicer the CLI talks to), called in-process."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

import event_platform_policies
from event_platform import labels
from event_platform.config import PlatformNamespacesConfig
from event_platform_policies import PACK_NAME, POLICIES, RESOURCE_POLICIES, STACK_POLICIES
from event_platform_policies.exposure import DEFAULT_LOAD_BALANCER_NAMESPACES
from event_platform_policies.tenancy import ENVIRONMENT_LABEL
from event_platform_policies.workloads import DEFAULT_PRIVILEGED_NAMESPACES
from harness import REPO_ROOT, STACKS, stack_config

PACK_DIR = REPO_ROOT / "policy"
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
"""How the engine marks a secret value on the wire (pulumi_policy.deserialize.SPECIAL_SECRET_SIG)."""


def servicer() -> Any:
    return _PolicyAnalyzerServicer(PACK_NAME, "1.0.0", list(POLICIES), EnforcementLevel.MANDATORY)


def struct(value: dict) -> struct_pb2.Struct:
    return json_format.ParseDict(value, struct_pb2.Struct())


def test_the_entry_point_serves_every_policy_as_mandatory(monkeypatch: pytest.MonkeyPatch) -> None:
    """If this fails, `--policy-pack policy` starts a pack missing policies, or one whose violations
    only warn instead of stopping the deployment."""
    served: dict[str, Any] = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: served.update(kwargs))
    runpy.run_path(str(PACK_DIR), run_name="__main__")
    assert served["name"] == PACK_NAME
    assert served["enforcement_level"] == EnforcementLevel.MANDATORY
    assert [p.name for p in served["policies"]] == [p.name for p in POLICIES]
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in POLICIES)
    assert len({p.name for p in POLICIES}) == len(POLICIES)
    assert len(RESOURCE_POLICIES) == 6 and len(STACK_POLICIES) == 2


def test_the_pack_project_file_runs_python_from_the_repository_venv() -> None:
    """If this fails, Pulumi cannot start the pack: PulumiPolicy.yaml must name the python runtime and
    a virtualenv (relative to policy/) that `make venv` creates with pulumi-policy in it."""
    project = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    venv = (PACK_DIR / project["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == (REPO_ROOT / ".venv").resolve()
    assert project["description"] and project["version"]


def test_a_violation_reaches_the_engine_as_a_mandatory_diagnostic_naming_resource_and_rule() -> None:
    """If this fails, the wiring between the pack and pulumi-policy's analyzer service is broken."""
    props = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "dev"},
             "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:latest"}]}}}}
    response = servicer().Analyze(proto.AnalyzeRequest(
        urn="urn:pulumi:dev::event-platform::kubernetes:apps/v1:Deployment::web-res",
        type="kubernetes:apps/v1:Deployment", name="web-res", properties=struct(props)), None)
    by_policy = {d.policyName: d for d in response.diagnostics}
    assert {"images-pinned", "containers-have-requests-and-limits", "containers-have-probes"} <= set(by_policy)
    image = by_policy["images-pinned"]
    assert image.enforcementLevel == proto.MANDATORY
    assert "Deployment 'dev/web' (Pulumi resource 'web-res')" in image.message
    assert "rule 'images-pinned'" in image.message


def test_the_sdk_hands_secret_values_to_policies_unwrapped_which_is_why_secrets_are_judged_by_origin() -> None:
    """If this fails, pulumi-policy started passing the secret mark through; then `secrets-not-literal`
    could look at the values themselves (see event_platform_policies/secrets.py)."""
    props = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "dev"},
             "spec": {"template": {"spec": {"containers": [
                 {"name": "app", "image": {**SECRET_SIG, "value": "nginx:latest"}}]}}}}
    response = servicer().Analyze(proto.AnalyzeRequest(
        urn="urn:x", type="kubernetes:apps/v1:Deployment", name="web", properties=struct(props)), None)
    image = next(d for d in response.diagnostics if d.policyName == "images-pinned")
    assert "nginx:latest" in image.message, "the secret-marked value arrived as its plain text"


def test_a_value_unknown_during_preview_becomes_an_advisory_note_not_a_violation() -> None:
    """If this fails, every first preview of the collector (digest not built yet) would fail."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    props = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "dev"},
             "spec": {"template": {"spec": {"containers": [{"name": "app", "image": UNKNOWN_STRING_VALUE}]}}}}
    response = servicer().Analyze(proto.AnalyzeRequest(
        urn="urn:x", type="kubernetes:apps/v1:Deployment", name="web", properties=struct(props)), None)
    image = next(d for d in response.diagnostics if d.policyName == "images-pinned")
    assert image.enforcementLevel == proto.ADVISORY and "during preview" in image.message


def test_stack_policies_are_served_with_the_property_dependencies_they_judge_secrets_by() -> None:
    """If this fails, `secrets-not-literal` does not see the generator behind a Secret under the engine."""
    password = proto.AnalyzerResource(urn="urn:pw", type="random:index/randomPassword:RandomPassword", name="pw",
                                      properties=struct({"result": {**SECRET_SIG, "value": "x"}}))
    generated = proto.AnalyzerResource(
        urn="urn:generated", type="kubernetes:core/v1:Secret", name="generated",
        properties=struct({"metadata": {"name": "a", "namespace": "s"}, "stringData": {"p": "x"}}),
        propertyDependencies={"stringData": proto.AnalyzerPropertyDependencies(urns=["urn:pw"])})
    literal = proto.AnalyzerResource(
        urn="urn:literal", type="kubernetes:core/v1:Secret", name="literal",
        properties=struct({"metadata": {"name": "b", "namespace": "s"}, "stringData": {"p": "hunter2"}}))
    response = servicer().AnalyzeStack(proto.AnalyzeStackRequest(resources=[password, generated, literal]), None)
    assert [(d.policyName, d.urn) for d in response.diagnostics] == [("secrets-not-literal", "urn:literal")]


def test_the_pack_publishes_its_config_schema_with_the_defaults() -> None:
    """If this fails, `pulumi preview --policy-pack-config` cannot be validated against the schema, or the
    schema's defaults differ from the ones the code falls back to."""
    info = servicer().GetAnalyzerInfo(None, None)
    schemas = {p.name: json_format.MessageToDict(p.configSchema) for p in info.policies}
    assert schemas["no-privileged-or-host-access"]["properties"]["allowedNamespaces"]["default"] == \
        list(DEFAULT_PRIVILEGED_NAMESPACES)
    assert schemas["load-balancer-only-for-gateway"]["properties"]["allowedNamespaces"]["default"] == \
        list(DEFAULT_LOAD_BALANCER_NAMESPACES)


def test_the_pack_agrees_with_the_platform_on_labels_and_namespace_names() -> None:
    """If this fails, the pack (which cannot import the platform's code at run time) checks a label or
    namespaces the platform no longer uses: then update the pack, or pass --policy-pack-config."""
    assert ENVIRONMENT_LABEL == labels.ENVIRONMENT
    defaults = PlatformNamespacesConfig()
    assert list(DEFAULT_PRIVILEGED_NAMESPACES) == [defaults.monitoring]
    assert list(DEFAULT_LOAD_BALANCER_NAMESPACES) == [defaults.gateway]
    for stack in STACKS:
        names = stack_config(stack).namespaces.platform
        assert (names.monitoring, names.gateway) == (defaults.monitoring, defaults.gateway), stack


def test_the_pack_does_not_import_the_platform_code() -> None:
    """If this fails, the pack works in tests but not under Pulumi, where platform/ is not on its path."""
    for path in Path(event_platform_policies.__file__).parent.glob("*.py"):
        assert "event_platform." not in path.read_text().replace("event_platform_policies", ""), path.name
