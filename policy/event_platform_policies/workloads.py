"""Rules for workloads (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) and the
Pod Security level of namespaces.

Helm releases are opaque to the engine (their objects are made by Helm, not declared through Pulumi),
so these rules see what the program declares itself. What charts run is still bounded: the
`no-privileged-or-host-access` rule also checks each Namespace's Pod Security level, which the API
server enforces on every pod, Helm's included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from event_platform_policies.kubernetes import (
    NAMESPACE,
    Unknowns,
    as_list,
    containers,
    get,
    namespace,
    pod_spec,
    runs_to_completion,
)
from event_platform_policies.rules import config_list, resource_policy, string_list

_DIGEST = re.compile(r"@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")

DEFAULT_REQUESTS = ("cpu", "memory")
DEFAULT_LIMITS = ("memory",)
"""No CPU limit by default: the platform deliberately leaves CPU unlimited (throttling hurts latency
more than sharing does, see config.ResourcesConfig); memory limits stop one leak from taking a node."""
DEFAULT_PRIVILEGED_NAMESPACES = ("monitoring",)
"""node-exporter uses the host's network and PID namespaces, Alloy reads pod logs from hostPath."""
POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"
PROBES = ("livenessProbe", "readinessProbe")


def image_problem(image: Any) -> str | None:
    """Why an image reference is not reproducible, or None when it is pinned."""
    if not isinstance(image, str) or not image.strip():
        return "names no image"
    if _DIGEST.search(image):
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"uses image '{image}' without a tag, which pulls the moving tag 'latest'"
    if last.rsplit(":", 1)[1] == "latest":
        return f"uses image '{image}', whose tag 'latest' moves"
    return None


def unpinned_images(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    unknowns = Unknowns()
    for container in containers(spec):
        with unknowns.tolerated():
            problem = image_problem(get(container.spec, "image"))
            if problem:
                yield f"{container} {problem}; pin an explicit version tag (registry/app:1.4.2) or a digest"
    unknowns.raise_if_any()


def missing_resources(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    wanted = [("requests", k) for k in config_list(config, "requests", DEFAULT_REQUESTS)] + \
             [("limits", k) for k in config_list(config, "limits", DEFAULT_LIMITS)]
    unknowns = Unknowns()
    for container in containers(spec):
        with unknowns.tolerated():
            missing = [f"resources.{kind}.{name}" for kind, name in wanted
                       if get(container.spec, "resources", kind, name) in (None, "")]
            if missing:
                yield f"{container} sets no {', '.join(missing)}; the scheduler and the quota need them"
    unknowns.raise_if_any()


def missing_probes(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    spec = pod_spec(resource_type, props)
    if spec is None or runs_to_completion(resource_type, spec):
        return
    unknowns = Unknowns()
    for container in containers(spec):
        if not container.keeps_running:
            continue  # a classic init container runs to completion before the pod starts
        with unknowns.tolerated():
            missing = [probe for probe in PROBES if not get(container.spec, probe)]
            if missing:
                yield (f"{container} has no {' and no '.join(missing)}; without liveness a hung process is "
                       "never restarted, without readiness traffic reaches a pod that cannot serve")
    unknowns.raise_if_any()


def host_access(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    allowed = config_list(config, "allowedNamespaces", DEFAULT_PRIVILEGED_NAMESPACES)
    only = f"only namespaces {', '.join(allowed) or '(none)'} may (policy config allowedNamespaces)"
    if resource_type == NAMESPACE:
        name = get(props, "metadata", "name")
        level = get(props, "metadata", "labels", POD_SECURITY_ENFORCE)
        if level == "privileged" and name not in allowed:
            yield f"enforces Pod Security level 'privileged' ({POD_SECURITY_ENFORCE}); {only}"
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    ns = namespace(props)
    if ns in allowed:
        return
    unknowns = Unknowns()
    for field, what in (("hostNetwork", "network"), ("hostPID", "process (PID)"), ("hostIPC", "IPC")):
        with unknowns.tolerated():
            if get(spec, field) is True:
                yield f"shares the host's {what} namespace (spec.{field}) in namespace '{ns}'; {only}"
    for volume in as_list(get(spec, "volumes")):
        with unknowns.tolerated():
            if get(volume, "hostPath") is not None:
                yield (f"mounts host path '{get(volume, 'hostPath', 'path')}' (volume '{get(volume, 'name')}') "
                       f"in namespace '{ns}'; {only}")
    for container in containers(spec):
        with unknowns.tolerated():
            if get(container.spec, "securityContext", "privileged") is True:
                yield f"{container} is privileged (securityContext.privileged) in namespace '{ns}'; {only}"
    unknowns.raise_if_any()


IMAGES_PINNED = resource_policy(
    "images-pinned",
    "Every container image names an explicit version tag other than 'latest', or a digest.",
    unpinned_images,
    remediation="Use the pins in platform/event_platform/versions.py, or the collector image's digest output.")

REQUESTS_AND_LIMITS = resource_policy(
    "containers-have-requests-and-limits",
    "Every container and init container sets resource requests (cpu, memory) and a memory limit.",
    missing_resources,
    remediation="Set resources.requests and resources.limits (the stack config's `resources` blocks).",
    config={
        "requests": string_list(DEFAULT_REQUESTS, "Resource names every container must request."),
        "limits": string_list(DEFAULT_LIMITS, "Resource names every container must limit."),
    })

PROBES_PRESENT = resource_policy(
    "containers-have-probes",
    "Every long-running container (and native sidecar) has a liveness and a readiness probe; Jobs, "
    "CronJobs and run-to-completion Pods are exempt.",
    missing_probes,
    remediation="Add livenessProbe and readinessProbe (liveness: the process is alive; readiness: it can serve).")

NO_HOST_ACCESS = resource_policy(
    "no-privileged-or-host-access",
    "No privileged container, host network/PID/IPC namespace, hostPath volume or privileged Pod Security "
    "level outside the namespaces configured to need them (default: monitoring).",
    host_access,
    remediation="Drop the host access, or run the workload in a namespace listed in allowedNamespaces.",
    config={"allowedNamespaces": string_list(
        DEFAULT_PRIVILEGED_NAMESPACES,
        "Namespaces whose pods may be privileged or use the host's namespaces and paths.")})
