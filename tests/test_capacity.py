"""Admission and capacity: every pod the stacks make is admitted by its namespace's LimitRange, and
every app namespace's ResourceQuota holds its workloads at their largest declared scale.

The model (`event_platform/capacity.py`) follows the API server: LimitRange defaulting and checks as
in kubernetes plugin/pkg/admission/limitranger/admission.go (defaults from `max`:
pkg/apis/core/v1/defaults.go SetDefaults_LimitRangeItem), CloudNativePG giving a Cluster's
`spec.resources` to each instance's postgres and bootstrap-controller containers
(cloudnative-pg pkg/specs/pods.go), and the deployment controller's surge (rounded up).
"""

from __future__ import annotations

from fractions import Fraction

from event_platform import capacity
from event_platform.offline import Recording, Resource
from harness import stack_config


def test_every_pod_is_admitted_and_every_app_namespace_fits_its_quota_at_the_largest_scale(every_recording) -> None:
    """If this fails, `pulumi up` stalls on a pod or claim the API server refuses: a Postgres pod whose
    CPU request is above the LimitRange's default limit, a third instance's volume above the storage
    quota, or the HPA's last replica or a rollout's surge pod above the CPU/memory quota."""
    recording = every_recording
    assert capacity.problems(recording) == []


def test_the_table_lists_each_app_namespace_with_its_workloads_totals_and_quota(every_recording) -> None:
    """If this fails, `make render` no longer shows what each environment needs against its quota."""
    recording = every_recording
    tables = capacity.capacity(recording)
    app_namespaces = {r.k8s_name for r in recording.objects("Namespace")
                      if r.metadata["labels"].get("app.kubernetes.io/component") == "app-namespace"}
    assert set(tables) == app_namespaces
    text = capacity.table(recording)
    cfg = stack_config(recording.stack)
    for ns, cap in tables.items():
        assert f"namespace {ns}:" in text
        found = {f"{w.kind}/{w.name}" for w in cap.workloads}
        if ns in cfg.namespaces.app_names:
            assert found >= {"Deployment/collector", "StatefulSet/redis", "Cluster/events-db"}
        else:  # a team's: exactly what its services asked for
            team, env = cfg.team_namespaces()[ns]
            assert found == {w for svc in team.services if env in svc.environments
                             for w in (f"Deployment/{svc.name}", *([f"Cluster/{svc.name}-db"] if svc.database else []),
                                       *([f"StatefulSet/{svc.name}-cache"] if svc.cache else []))}, ns


# ------------------------------------------------------------------------- the model on small inputs
def _obj(kind: str, name: str, spec: dict, api: str = "v1", ns: str = "team") -> Resource:
    return Resource(type=f"kubernetes:x:{kind}", name=f"{ns}-{name}", urn=f"urn:{ns}:{kind}:{name}",
                    inputs={"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns},
                            "spec": spec}, parent=None, dependencies=(), custom=True)


def _recording(*objects: Resource, limits: dict | None = None, hard: dict | None = None) -> Recording:
    guard = [_obj("LimitRange", "defaults", {"limits": [{"type": "Container", **(limits or {})}]}),
             _obj("ResourceQuota", "quota", {"hard": hard or {"pods": "100"}})]
    return Recording(stack="fixture", resources=[*guard, *objects])


def _cluster(resources: dict, instances: int = 3, size: str = "50Gi") -> Resource:
    return _obj("Cluster", "db", {"instances": instances, "resources": resources, "storage": {"size": size}},
                api="postgresql.cnpg.io/v1")


def _deployment(replicas: int, strategy: dict, cpu: str = "250m") -> Resource:
    pod = {"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu, "memory": "1Gi"},
                                                        "limits": {"memory": "1Gi"}}}]}
    return _obj("Deployment", "app", {"replicas": replicas, "strategy": strategy, "template": {"spec": pod}},
                api="apps/v1")


def test_a_cpu_request_above_the_limit_range_default_limit_is_refused_on_every_cluster_pod() -> None:
    """The prod defect: a Cluster asking `cpu: 1` with no CPU limit in a namespace whose LimitRange
    defaults the limit to 500m. If this fails, the model no longer sees what the API server refuses."""
    rec = _recording(_cluster({"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}),
                     limits={"default": {"cpu": "500m", "memory": "512Mi"}})
    found = capacity.problems(rec)
    assert "team/Cluster/db: container postgres: cpu request 1 > limit 0.5" in found
    assert "team/Cluster/db: init container bootstrap-controller: cpu request 1 > limit 0.5" in found


def test_a_limit_range_max_alone_defaults_every_containers_limit() -> None:
    """The API server copies `max` into an omitted `default`: a CPU max of 500m is a CPU limit of 500m
    for every container that names none."""
    rec = _recording(_cluster({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}),
                     limits={"max": {"cpu": "500m"}})
    assert any("cpu request 1 > limit 0.5" in p for p in capacity.problems(rec))


def test_a_deployment_counts_at_its_hpa_ceiling_plus_its_surge_rounded_up() -> None:
    hpa = _obj("HorizontalPodAutoscaler", "app", {"maxReplicas": 4, "scaleTargetRef": {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}}, api="autoscaling/v2")
    rec = _recording(_deployment(3, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}), hpa,
                     hard={"requests.cpu": "1", "pods": "5"})
    (ns,) = capacity.capacity(rec).values()
    (app,) = [w for w in ns.workloads if w.kind == "Deployment"]
    assert (app.pods, app.why) == (5, "HPA maxReplicas 4 + 1 surge")
    assert ns.total()["requests.cpu"] == Fraction(5, 4)
    assert ns.problems() == ["namespace team: requests.cpu 1.25 needed at the largest declared scale > quota 1"]


def test_cluster_storage_counts_once_per_instance_against_the_storage_quota() -> None:
    """The staging defect: 3 × 50Gi against 100Gi refuses the third instance's claim."""
    rec = _recording(_cluster({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}),
                     hard={"requests.storage": "100Gi", "persistentvolumeclaims": "10"})
    (ns,) = capacity.capacity(rec).values()
    assert ns.total()["requests.storage"] == 150 * 2**30 and ns.total()["persistentvolumeclaims"] == 3
    assert ns.problems() == [("namespace team: requests.storage 150Gi needed at the largest declared scale > "
                              "quota 100Gi")]


def test_a_quota_on_cpu_limits_refuses_pods_that_name_no_cpu_limit() -> None:
    """With `limits.cpu` in the quota, every container must state a CPU limit (the quota admission's
    podEvaluator constraints); our resource model has none, so such a quota must not come back."""
    rec = _recording(_deployment(1, {"type": "Recreate"}), hard={"limits.cpu": "8"})
    assert capacity.problems(rec) == [("team/Deployment/app: no cpu limit while the quota tracks limits.cpu: "
                                       "its pods are refused")]


def test_the_table_is_the_same_whatever_order_resources_were_registered_in(recording) -> None:
    """`make render` prints it and reviewers diff two runs: registration order must not show."""
    shuffled = Recording(stack=recording.stack, resources=list(reversed(recording.resources)))
    assert capacity.table(shuffled) == capacity.table(recording)
