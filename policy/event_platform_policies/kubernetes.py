"""Reading Kubernetes objects as the policy engine hands them over.

`args.props` are the resource's inputs in camelCase (`spec.template.spec.containers`), wrapped by
pulumi-policy in read-only `Mapping`/`Sequence` proxies (never `dict`/`list`), and any value not
known yet (during `pulumi preview`, e.g. an image digest of an image not built yet) raises
`UnknownValueError` when it is read. The helpers here take that into account, so each policy checks
everything that is known and only then reports that the rest could not be checked during preview.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pulumi_policy.proxy import UnknownValueError

POD = "kubernetes:core/v1:Pod"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    POD: ("spec",),
    DEPLOYMENT: ("spec", "template", "spec"),
    STATEFUL_SET: ("spec", "template", "spec"),
    DAEMON_SET: ("spec", "template", "spec"),
    REPLICA_SET: ("spec", "template", "spec"),
    JOB: ("spec", "template", "spec"),
    CRON_JOB: ("spec", "jobTemplate", "spec", "template", "spec"),
}
"""Where each workload kind keeps its pod spec. These are the kinds the workload policies check."""
WORKLOAD_TYPES = frozenset(POD_SPEC_PATHS)
RUN_TO_COMPLETION_TYPES = frozenset({JOB, CRON_JOB})
"""Workloads whose pods finish: probes mean nothing there."""


def get(obj: Any, *path: str | int) -> Any:
    """The value at `path` inside nested mappings/sequences, or None where the path does not exist."""
    for step in path:
        if isinstance(step, int):
            if not is_list(obj) or step >= len(obj):
                return None
        elif not isinstance(obj, Mapping):
            return None
        try:
            obj = obj[step]
        except (KeyError, IndexError):
            return None
    return obj


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def as_list(value: Any) -> list[Any]:
    return list(value) if is_list(value) else []


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec of a workload, or None for anything else."""
    path = POD_SPEC_PATHS.get(resource_type)
    spec = get(props, *path) if path else None
    return spec if isinstance(spec, Mapping) else None


def runs_to_completion(resource_type: str, spec: Mapping[str, Any]) -> bool:
    """Jobs, CronJobs, and bare Pods whose restartPolicy lets them finish."""
    return resource_type in RUN_TO_COMPLETION_TYPES or (
        resource_type == POD and get(spec, "restartPolicy") in ("Never", "OnFailure"))


@dataclass(frozen=True)
class Container:
    """One container of a pod spec."""

    name: str
    section: str
    """`containers` or `initContainers`."""
    spec: Mapping[str, Any]

    @property
    def is_sidecar(self) -> bool:
        """A native sidecar: an init container with restartPolicy Always keeps running beside the app."""
        return self.section == "initContainers" and get(self.spec, "restartPolicy") == "Always"

    @property
    def keeps_running(self) -> bool:
        return self.section == "containers" or self.is_sidecar

    def __str__(self) -> str:
        kind = "init container" if self.section == "initContainers" else "container"
        return f"{kind} '{self.name}'"


def containers(spec: Mapping[str, Any]) -> list[Container]:
    """The containers and init containers of a pod spec."""
    found = []
    for section in ("initContainers", "containers"):
        for index, container in enumerate(as_list(get(spec, section))):
            if isinstance(container, Mapping):
                name = _known(lambda c=container: get(c, "name")) or f"#{index}"
                found.append(Container(str(name), section, container))
    return found


def namespace(props: Mapping[str, Any]) -> str:
    """The object's namespace (`default` when it names none)."""
    return get(props, "metadata", "namespace") or "default"


def describe(resource_type: str, props: Mapping[str, Any], logical_name: str) -> str:
    """How a violation names the object: kind, namespace/name, and the Pulumi resource."""
    kind = _known(lambda: get(props, "kind")) or resource_type.rsplit(":", 1)[-1]
    name = _known(lambda: get(props, "metadata", "name")) or "(generated name)"
    ns = None if resource_type == NAMESPACE else _known(lambda: namespace(props))
    where = f"{ns}/{name}" if ns else name
    return f"{kind} '{where}' (Pulumi resource '{logical_name}')"


def _known(read: Any) -> Any:
    try:
        return read()
    except UnknownValueError:
        return None


class Unknowns:
    """Remembers the first value that is unknown during preview, so a policy can go on checking what
    is known and report "cannot check during preview" at the end (by raising it: pulumi-policy turns
    an `UnknownValueError` into an advisory note instead of a violation)."""

    def __init__(self) -> None:
        self.first: UnknownValueError | None = None

    @contextmanager
    def tolerated(self) -> Iterator[None]:
        try:
            yield
        except UnknownValueError as err:
            if self.first is None:
                self.first = err

    def raise_if_any(self) -> None:
        if self.first is not None:
            raise self.first
