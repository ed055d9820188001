"""The workload rules: pinned images, requests and limits, probes, no host access.

Each rule gets an example it must accept and one it must reject, across every workload kind whose
pod spec it has to find; a rejection must name the object, the Pulumi resource and the rule.
"""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UnknownValueError

from event_platform_policies.testing import (
    UNKNOWN,
    assert_names_resource_and_rule,
    check_resource,
    check_resource_in_preview,
    good_container,
    workload,
)
from event_platform_policies.workloads import IMAGES_PINNED, NO_HOST_ACCESS, PROBES_PRESENT, REQUESTS_AND_LIMITS

KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
LONG_RUNNING = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")


# ------------------------------------------------------------------------------------------ images
@pytest.mark.parametrize("kind", KINDS)
def test_a_workload_whose_images_carry_a_version_tag_passes_every_workload_rule(kind: str) -> None:
    """If this fails, a correct workload of this kind is rejected (or its pod spec is not found)."""
    resource_type, props = workload(kind)
    for policy in (IMAGES_PINNED, REQUESTS_AND_LIMITS, PROBES_PRESENT, NO_HOST_ACCESS):
        assert check_resource(policy, resource_type, props) == [], policy.name


@pytest.mark.parametrize("kind", KINDS)
def test_an_image_tagged_latest_is_rejected_in_every_workload_kind(kind: str) -> None:
    """If this fails, a rollout of that kind is not reproducible: `latest` changes under it."""
    resource_type, props = workload(kind, name="web", containers=[good_container(image="nginx:latest")])
    message = assert_names_resource_and_rule(check_resource(IMAGES_PINNED, resource_type, props, name="web-res"),
                                             rule="images-pinned", names=(kind, "dev/web", "web-res", "nginx:latest"))
    assert "container 'app'" in message


@pytest.mark.parametrize("image", ["nginx", "localhost:5001/event-collector", "ghcr.io/org/app"])
def test_an_image_without_a_tag_is_rejected_even_behind_a_registry_port(image: str) -> None:
    """If this fails, `localhost:5001/app` passes because of the colon of the registry's port."""
    resource_type, props = workload(containers=[good_container(image=image)])
    message = assert_names_resource_and_rule(check_resource(IMAGES_PINNED, resource_type, props),
                                             rule="images-pinned", names=(image,))
    assert "without a tag" in message


@pytest.mark.parametrize("image", [
    "localhost:5001/event-collector:3f2a9c1d",
    "localhost:5001/event-collector@sha256:" + "a" * 64,
    "docker.io/library/redis:7.4.11-alpine",
    "ghcr.io/cloudnative-pg/postgresql:17.11-system-bookworm@sha256:" + "b" * 64,
])
def test_an_image_with_a_version_tag_or_a_digest_passes(image: str) -> None:
    """If this fails, the pinned images of versions.py or the collector's digest are rejected."""
    resource_type, props = workload(containers=[good_container(image=image)])
    assert check_resource(IMAGES_PINNED, resource_type, props) == []


def test_an_init_container_on_latest_is_rejected_and_named_as_an_init_container() -> None:
    """If this fails, init containers escape the image rule."""
    resource_type, props = workload(initContainers=[good_container("migrate", image="busybox:latest")])
    message = assert_names_resource_and_rule(check_resource(IMAGES_PINNED, resource_type, props),
                                             rule="images-pinned", names=("busybox:latest",))
    assert "init container 'migrate'" in message


def test_an_image_unknown_during_preview_does_not_hide_a_latest_image_beside_it() -> None:
    """If this fails, a digest not yet built (preview) either fails the rule or masks a real violation;
    pulumi-policy turns the final UnknownValueError into an advisory "cannot check during preview"."""
    resource_type, props = workload(containers=[good_container("collector", image=UNKNOWN),
                                                good_container("sidecar", image="envoy:latest")])
    messages, unknown = check_resource_in_preview(IMAGES_PINNED, resource_type, props)
    assert isinstance(unknown, UnknownValueError)
    assert len(messages) == 1 and "envoy:latest" in messages[0]


# --------------------------------------------------------------------------- requests and limits
@pytest.mark.parametrize("missing, named", [
    ({"limits": {}}, "resources.limits.memory"),
    ({"requests": {"memory": "128Mi"}, "limits": {"memory": "256Mi"}}, "resources.requests.cpu"),
])
def test_a_container_missing_a_request_or_the_memory_limit_is_rejected(missing: dict, named: str) -> None:
    """If this fails, a pod can be scheduled blind or one leak can take a node's memory."""
    resources = {"requests": {"cpu": "100m", "memory": "128Mi"}, **missing}
    resource_type, props = workload("StatefulSet", name="redis", namespace="prod",
                                    containers=[good_container("redis", resources=resources)])
    message = assert_names_resource_and_rule(
        check_resource(REQUESTS_AND_LIMITS, resource_type, props, name="data-redis"),
        rule="containers-have-requests-and-limits", names=("StatefulSet", "prod/redis", "data-redis", named))
    assert "container 'redis'" in message


def test_a_container_without_a_cpu_limit_passes_because_the_platform_does_not_cap_cpu() -> None:
    """If this fails, every component would need a CPU limit the design deliberately leaves out."""
    resource_type, props = workload()
    assert "cpu" not in props["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert check_resource(REQUESTS_AND_LIMITS, resource_type, props) == []


def test_the_required_limits_are_configurable() -> None:
    """If this fails, a team asking for CPU limits through the pack config gets nothing."""
    resource_type, props = workload()
    messages = check_resource(REQUESTS_AND_LIMITS, resource_type, props, config={"limits": ["cpu", "memory"]})
    assert_names_resource_and_rule(messages, rule="containers-have-requests-and-limits",
                                   names=("resources.limits.cpu",))


def test_an_init_container_without_resources_is_rejected() -> None:
    """If this fails, init containers run unbounded (and the quota rejects the pod at run time)."""
    resource_type, props = workload(initContainers=[good_container("migrate", resources=None)])
    assert_names_resource_and_rule(check_resource(REQUESTS_AND_LIMITS, resource_type, props),
                                   rule="containers-have-requests-and-limits", names=("init container 'migrate'",))


# ---------------------------------------------------------------------------------------- probes
@pytest.mark.parametrize("kind", LONG_RUNNING)
@pytest.mark.parametrize("probe", ["livenessProbe", "readinessProbe"])
def test_a_long_running_container_without_a_probe_is_rejected(kind: str, probe: str) -> None:
    """If this fails, a hung process is never restarted, or traffic reaches a pod that cannot serve."""
    resource_type, props = workload(kind, name="collector", containers=[good_container(**{probe: None})])
    assert_names_resource_and_rule(check_resource(PROBES_PRESENT, resource_type, props, name="collector-dev"),
                                   rule="containers-have-probes",
                                   names=(kind, "dev/collector", "collector-dev", probe))


@pytest.mark.parametrize("kind, pod_fields", [("Job", {"restartPolicy": "Never"}),
                                              ("CronJob", {"restartPolicy": "OnFailure"}),
                                              ("Pod", {"restartPolicy": "Never"})])
def test_pods_that_run_to_completion_need_no_probes(kind: str, pod_fields: dict) -> None:
    """If this fails, a backup Job or a one-off Pod must carry meaningless probes."""
    resource_type, props = workload(kind, containers=[good_container(livenessProbe=None, readinessProbe=None)],
                                    **pod_fields)
    assert check_resource(PROBES_PRESENT, resource_type, props) == []


def test_a_classic_init_container_needs_no_probes_but_a_native_sidecar_does() -> None:
    """If this fails, either init containers get probes Kubernetes rejects, or sidecars escape."""
    bare = {"livenessProbe": None, "readinessProbe": None}
    resource_type, props = workload(initContainers=[good_container("migrate", **bare)])
    assert check_resource(PROBES_PRESENT, resource_type, props) == []
    resource_type, props = workload(initContainers=[good_container("proxy", restartPolicy="Always", **bare)])
    assert_names_resource_and_rule(check_resource(PROBES_PRESENT, resource_type, props),
                                   rule="containers-have-probes", names=("init container 'proxy'",))


# ------------------------------------------------------------------------------------ host access
@pytest.mark.parametrize("pod_fields, container_fields, named", [
    ({"hostNetwork": True}, {}, "spec.hostNetwork"),
    ({"hostPID": True}, {}, "spec.hostPID"),
    ({"hostIPC": True}, {}, "spec.hostIPC"),
    ({"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]}, {}, "/var/log"),
    ({}, {"securityContext": {"privileged": True}}, "privileged"),
])
def test_host_access_outside_the_allowed_namespaces_is_rejected(pod_fields: dict, container_fields: dict,
                                                                named: str) -> None:
    """If this fails, an app pod can reach into its node (the escape Pod Security exists to stop)."""
    resource_type, props = workload("DaemonSet", name="agent", containers=[good_container(**container_fields)],
                                    **pod_fields)
    message = assert_names_resource_and_rule(
        check_resource(NO_HOST_ACCESS, resource_type, props, name="agent-res"),
        rule="no-privileged-or-host-access", names=("DaemonSet", "dev/agent", "agent-res", named))
    assert "monitoring" in message, "the message says where it would be allowed"


def test_host_access_in_the_monitoring_namespace_passes() -> None:
    """If this fails, node-exporter (host network/PID) and Alloy (hostPath logs) cannot be declared."""
    resource_type, props = workload("DaemonSet", namespace="monitoring", hostNetwork=True, hostPID=True,
                                    volumes=[{"name": "logs", "hostPath": {"path": "/var/log"}}],
                                    containers=[good_container(securityContext={"privileged": True})])
    assert check_resource(NO_HOST_ACCESS, resource_type, props) == []


def test_the_namespaces_allowed_host_access_are_configurable() -> None:
    """If this fails, a stack that renames `monitoring` cannot tell the pack."""
    resource_type, props = workload("DaemonSet", namespace="observability", hostNetwork=True)
    assert check_resource(NO_HOST_ACCESS, resource_type, props,
                          config={"allowedNamespaces": ["observability"]}) == []
    assert check_resource(NO_HOST_ACCESS, resource_type, props) != []


def test_a_privileged_pod_security_level_outside_the_allowed_namespaces_is_rejected() -> None:
    """If this fails, a namespace can admit privileged pods from Helm charts the pack never sees."""
    labels = {"pod-security.kubernetes.io/enforce": "privileged"}
    rejected = check_resource(NO_HOST_ACCESS, "kubernetes:core/v1:Namespace",
                              {"metadata": {"name": "gateway", "labels": labels}}, name="tenancy-gateway")
    assert_names_resource_and_rule(rejected, rule="no-privileged-or-host-access",
                                   names=("Namespace 'gateway'", "tenancy-gateway", "'privileged'"))
    assert check_resource(NO_HOST_ACCESS, "kubernetes:core/v1:Namespace",
                          {"metadata": {"name": "monitoring", "labels": labels}}) == []
    restricted = {"pod-security.kubernetes.io/enforce": "restricted"}
    assert check_resource(NO_HOST_ACCESS, "kubernetes:core/v1:Namespace",
                          {"metadata": {"name": "dev", "labels": restricted}}) == []


def test_objects_that_are_not_workloads_are_left_alone() -> None:
    """If this fails, the workload rules trip over ConfigMaps, Services or Helm releases."""
    for resource_type, props in [
        ("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "c"}, "data": {"image": "nginx:latest"}}),
        ("kubernetes:helm.sh/v3:Release", {"name": "loki", "values": {"image": {"tag": "latest"}}}),
    ]:
        for policy in (IMAGES_PINNED, REQUESTS_AND_LIMITS, PROBES_PRESENT, NO_HOST_ACCESS):
            assert check_resource(policy, resource_type, props) == []
