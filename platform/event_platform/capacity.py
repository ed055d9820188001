"""What each namespace's workloads need at their largest declared scale, against its ResourceQuota.

Computed from a `Recording` (any stack, any fixture), the same objects `render` writes, as the API
server would admit them:

* pods per workload at the largest scale that can happen without anyone editing the stack: a
  Deployment at max(replicas, HPA maxReplicas) plus its rolling-update surge, a StatefulSet at its
  replicas, a CloudNativePG Cluster at its instances (the operator's initdb/join Job pods replace
  the instance they create and carry the same resources: cloudnative-pg pkg/specs/jobs.go);
* each container's requests and limits after the namespace's LimitRange defaulting (a missing
  request takes the limit, then `defaultRequest`; a missing limit takes `default`, itself `max`
  when omitted: kubernetes pkg/apis/core/v1/defaults.go SetDefaults_LimitRangeItem and
  plugin/pkg/admission/limitranger/admission.go), and what admission refuses (request above limit,
  limit above `max`);
* claims and storage: PVCs, StatefulSet claim templates per replica, Cluster storage per instance.

`make render` prints `table(recording)`; tests assert `problems(recording)` is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from event_platform.offline import Recording, Resource

COMPUTE = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
COLUMNS = ("pods", *COMPUTE, "persistentvolumeclaims", "requests.storage")
"""The quota names the table shows, in order."""

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX: dict[str, Fraction] = {
    "": Fraction(1), "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    **{s: Fraction(2 ** (10 * i)) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), 1)}}


def quantity(value: Any) -> Fraction:
    """A Kubernetes quantity (`500m`, `2`, `1.5Gi`) as an exact number; ValueError if it is none."""
    match = _QUANTITY.match(str(value))
    if isinstance(value, bool) or not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return Fraction(match.group(1)) * _SUFFIX[match.group(2) or ""]


def show(value: Fraction, resource: str) -> str:
    """A quantity for people: Gi/Mi for bytes, cores with up to three decimals for CPU."""
    if resource.endswith(("memory", "storage")):
        for suffix in ("Gi", "Mi", "Ki"):
            if value >= _SUFFIX[suffix]:
                return f"{float(value / _SUFFIX[suffix]):g}{suffix}"
        return str(int(value))
    if resource.endswith("cpu"):
        return f"{float(value):.3f}".rstrip("0").rstrip(".")
    return str(int(value))


@dataclass(frozen=True)
class Workload:
    """One object that makes pods or claims, at its largest declared scale."""

    kind: str
    name: str
    pods: int
    why: str
    """How `pods` was counted, e.g. `4 = HPA maxReplicas + 1 surge`."""
    per_pod: dict[str, Fraction]
    """Admitted requests.*/limits.* of one pod (containers summed; an init container counts when larger)."""
    claims: int = 0
    storage: Fraction = Fraction(0)
    refusals: tuple[str, ...] = ()
    """Why admission refuses its pods (LimitRange, request above limit), one line each."""

    def needs(self) -> dict[str, Fraction]:
        out = {"pods": Fraction(self.pods), "persistentvolumeclaims": Fraction(self.claims),
               "requests.storage": self.storage}
        out.update({r: self.pods * self.per_pod.get(r, Fraction(0)) for r in COMPUTE})
        return out


@dataclass(frozen=True)
class NamespaceCapacity:
    namespace: str
    workloads: tuple[Workload, ...]
    hard: dict[str, Fraction] = field(default_factory=dict)
    """The namespace's ResourceQuota `spec.hard` (empty: no quota)."""

    def total(self) -> dict[str, Fraction]:
        return {r: sum((w.needs()[r] for w in self.workloads), Fraction(0)) for r in COLUMNS}

    def problems(self) -> list[str]:
        """Everything admission or the quota would refuse, one line each."""
        out = [f"{self.namespace}/{w.kind}/{w.name}: {why}" for w in self.workloads for why in w.refusals]
        total = self.total()
        for resource, hard in self.hard.items():
            if resource in total and total[resource] > hard:
                out.append(f"namespace {self.namespace}: {resource} {show(total[resource], resource)} needed at "
                           f"the largest declared scale > quota {show(hard, resource)}")
        for resource in (r for r in self.hard if r in COMPUTE):
            kind, res = resource.split(".")
            for w in self.workloads:
                if w.pods and res not in {k.split(".")[1] for k in w.per_pod if k.startswith(kind)}:
                    out.append(f"{self.namespace}/{w.kind}/{w.name}: no {res} {kind[:-1]} while the quota tracks "
                               f"{resource}: its pods are refused")
        return out


def _limit_range(rec: Recording, namespace: str) -> dict[str, dict[str, Fraction]]:
    """The namespace's Container LimitRange items merged, with the API server's own defaulting."""
    merged: dict[str, dict[str, Fraction]] = {k: {} for k in ("default", "defaultRequest", "max", "min")}
    for lr in rec.objects("LimitRange", namespace):
        for item in lr.plain["spec"].get("limits", []):
            if item.get("type") == "Container":
                for key, values in merged.items():
                    values.update({r: quantity(v) for r, v in (item.get(key) or {}).items()})
    for src, dst in (("max", "default"), ("default", "defaultRequest"), ("min", "defaultRequest")):
        for r, v in merged[src].items():
            merged[dst].setdefault(r, v)
    return merged


def admitted(container: dict[str, Any], limit_range: dict[str, dict[str, Fraction]]
             ) -> tuple[dict[str, Fraction], list[str]]:
    """A container's requests.*/limits.* as stored after admission, and why admission refuses it."""
    res = container.get("resources") or {}
    requests = {r: quantity(v) for r, v in (res.get("requests") or {}).items()}
    limits = {r: quantity(v) for r, v in (res.get("limits") or {}).items()}
    for r, v in limits.items():
        requests.setdefault(r, v)
    for r, v in limit_range["default"].items():
        limits.setdefault(r, v)
    for r, v in limit_range["defaultRequest"].items():
        requests.setdefault(r, v)
    name, refusals = container.get("name", "?"), []
    for r, request in requests.items():
        if r in limits and request > limits[r]:
            refusals.append(f"container {name}: {r} request {show(request, r)} > limit {show(limits[r], r)}")
    for r, mx in limit_range["max"].items():
        if r not in limits or limits[r] > mx:
            refusals.append(f"container {name}: {r} limit {show(limits[r], r) if r in limits else '(none)'} "
                            f"above the LimitRange max {show(mx, r)}")
    for r, mn in limit_range["min"].items():
        if requests.get(r, Fraction(0)) < mn:
            refusals.append(f"container {name}: {r} request below the LimitRange min {show(mn, r)}")
    return {**{f"requests.{r}": v for r, v in requests.items()},
            **{f"limits.{r}": v for r, v in limits.items()}}, refusals


def _per_pod(spec: dict[str, Any], limit_range: dict[str, dict[str, Fraction]]
             ) -> tuple[dict[str, Fraction], list[str]]:
    """A pod's admitted totals: the containers' sum, or the largest init container if larger
    (restartable sidecars are not used here)."""
    total: dict[str, Fraction] = {}
    refusals: list[str] = []
    for c in spec.get("containers") or []:
        values, why = admitted(c, limit_range)
        refusals += why
        for r, v in values.items():
            total[r] = total.get(r, Fraction(0)) + v
    for c in spec.get("initContainers") or []:
        values, why = admitted(c, limit_range)
        refusals += [f"init {w}" for w in why]
        for r, v in values.items():
            total[r] = max(total.get(r, Fraction(0)), v)
    return total, refusals


def _hpa_max(rec: Recording, obj: Resource) -> int | None:
    ceilings = [h.plain["spec"]["maxReplicas"] for h in rec.objects("HorizontalPodAutoscaler", obj.namespace)
                if h.plain["spec"]["scaleTargetRef"].get("kind") == obj.kind
                and h.plain["spec"]["scaleTargetRef"].get("name") == obj.k8s_name]
    return max(ceilings, default=None)


def _surge(strategy: dict[str, Any], replicas: int) -> int:
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        return -(-replicas * int(surge[:-1]) // 100)  # rounded up, as the deployment controller does
    return int(surge)


def workload(rec: Recording, obj: Resource) -> Workload | None:
    """The pods and claims `obj` makes at its largest declared scale; None if it makes neither."""
    spec, lr = obj.plain.get("spec") or {}, _limit_range(rec, obj.namespace or "default")
    if obj.kind in ("Deployment", "StatefulSet"):
        replicas = spec.get("replicas", 1)
        hpa = _hpa_max(rec, obj)
        pods, why = (hpa, f"HPA maxReplicas {hpa}") if hpa and hpa > replicas else (replicas, f"{replicas} replicas")
        if obj.kind == "Deployment" and (surge := _surge(spec.get("strategy") or {}, pods)):
            pods, why = pods + surge, f"{why} + {surge} surge"
        per_pod, refusals = _per_pod(spec["template"].get("spec") or {}, lr)
        templates = spec.get("volumeClaimTemplates") or []
        storage = sum((quantity(t["spec"]["resources"]["requests"]["storage"]) for t in templates), Fraction(0))
        return Workload(obj.kind, obj.k8s_name or "", pods, why, per_pod, claims=pods * len(templates),
                        storage=pods * storage, refusals=tuple(refusals))
    if obj.kind == "Cluster" and obj.inputs.get("apiVersion", "").startswith("postgresql.cnpg.io/"):
        instances = spec.get("instances", 1)
        resources = spec.get("resources") or {}
        # cloudnative-pg pkg/specs/pods.go: spec.resources on the postgres container and on the
        # bootstrap-controller init container of every instance (and of the initdb/join Jobs).
        pod = {"containers": [{"name": "postgres", "resources": resources}],
               "initContainers": [{"name": "bootstrap-controller", "resources": resources}]}
        per_pod, refusals = _per_pod(pod, lr)
        volumes = [v for v in (spec.get("storage"), spec.get("walStorage")) if v]
        storage = sum((quantity(v["size"]) for v in volumes), Fraction(0))
        return Workload("Cluster", obj.k8s_name or "", instances, f"{instances} instances", per_pod,
                        claims=instances * len(volumes), storage=instances * storage, refusals=tuple(refusals))
    if obj.kind == "PersistentVolumeClaim":
        size = quantity(spec["resources"]["requests"]["storage"])
        return Workload(obj.kind, obj.k8s_name or "", 0, "a claim", {}, claims=1, storage=size)
    return None


def capacity(rec: Recording) -> dict[str, NamespaceCapacity]:
    """Every namespace with a ResourceQuota (the app namespaces), by name."""
    out = {}
    for quota in rec.objects("ResourceQuota"):
        ns = quota.namespace or "default"
        hard = {r: quantity(v) for r, v in quota.plain["spec"]["hard"].items()}
        found = [w for obj in rec.objects(namespace=ns) if (w := workload(rec, obj)) is not None]
        # sorted: registration order varies between runs, and `make render` output is diffed
        out[ns] = NamespaceCapacity(ns, tuple(sorted(found, key=lambda w: (w.kind, w.name))), hard)
    return dict(sorted(out.items()))


def problems(rec: Recording) -> list[str]:
    return [p for ns in capacity(rec).values() for p in ns.problems()]


def table(rec: Recording) -> str:
    """The capacity table of every quota'd namespace, for people (printed by `make render`)."""
    lines = []
    header = ["workload", "counted as", *COLUMNS]
    for ns in capacity(rec).values():
        rows = [[f"{w.kind}/{w.name}", w.why, *(show(w.needs()[r], r) for r in COLUMNS)] for w in ns.workloads]
        total = ns.total()
        rows.append(["total", "", *(show(total[r], r) for r in COLUMNS)])
        rows.append(["quota", "", *(show(ns.hard[r], r) if r in ns.hard else "-" for r in COLUMNS)])
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines.append(f"namespace {ns.namespace}: at the largest declared scale")
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                  for row in [header, *rows]]
        lines += [f"  ! {p}" for p in ns.problems()]
    return "\n".join(lines)
