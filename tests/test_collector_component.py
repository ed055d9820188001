"""The collector on the platform: each environment's Deployment, Service, HTTPRoute, PDB, HPA and
monitoring fit together, and fit the collector's own code."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from collector.app import LIVENESS_PATH, METRICS_PATH, READINESS_PATH, create_app
from collector.settings import Settings
from event_platform import offline
from event_platform.components import collector as component
from harness import stack_config


def environments(recording):
    return stack_config(recording.stack).collector.environments


def pod_spec(deployment: offline.Resource) -> dict:
    return deployment.plain["spec"]["template"]["spec"]


def container(deployment: offline.Resource) -> dict:
    (only,) = pod_spec(deployment)["containers"]
    return only


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_the_route_reaches_the_collector_pods_through_its_service(recording) -> None:
    """HTTPRoute backend -> Service (name, port) -> selector -> pod labels -> named container port."""
    for env, env_cfg in environments(recording).items():
        route = recording.object("HTTPRoute", "collector", env).plain["spec"]
        assert route["hostnames"] == [env_cfg.hostname]
        for ref in route["rules"][0]["backendRefs"]:
            service = recording.object("Service", ref["name"], env).plain["spec"]
            port = next(p for p in service["ports"] if p["port"] == ref["port"])
            pods = [d for d in recording.objects("Deployment", env)
                    if selects(service["selector"], d.plain["spec"]["template"]["metadata"]["labels"])]
            assert len(pods) == 1, ref["name"]
            names = {p["name"]: p["containerPort"] for p in container(pods[0])["ports"]}
            assert names[port["targetPort"]] == component.CONTRACT.port


def test_probes_hit_paths_the_collector_serves_on_the_port_it_listens_on(recording) -> None:
    """Read from the collector's code: a renamed endpoint or a moved port breaks this, not production."""
    served = {r.path for r in create_app(Settings(_env_file=None)).routes if isinstance(r, Route)}
    default_port = Settings.model_fields["port"].default
    for env in environments(recording):
        c = container(recording.object("Deployment", "collector", env))
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports["http"] == default_port
        assert recording.object("ConfigMap", "collector-config", env).plain["data"]["PORT"] == str(default_port)
        assert c["livenessProbe"]["httpGet"]["path"] == LIVENESS_PATH in served
        assert c["readinessProbe"]["httpGet"]["path"] == READINESS_PATH in served
        assert c["startupProbe"]["httpGet"]["path"] == LIVENESS_PATH
        assert {c[p]["httpGet"]["port"] for p in ("livenessProbe", "readinessProbe", "startupProbe")} == {"http"}
        annotations = recording.object("Deployment", "collector", env).plain["spec"]["template"]["metadata"][
            "annotations"]
        assert (annotations["prometheus.io/path"], annotations["prometheus.io/port"]) == (
            METRICS_PATH, str(default_port))
        assert METRICS_PATH in served


def test_every_env_reference_resolves_to_a_key_something_in_the_stack_produces(recording) -> None:
    for env in environments(recording):
        c = container(recording.object("Deployment", "collector", env))
        for source in c["envFrom"]:
            assert recording.object("ConfigMap", source["configMapRef"]["name"], env)
        for var in c["env"]:
            ref = var["valueFrom"]["secretKeyRef"]
            assert ref["key"] in produced_secret_keys(recording, env, ref["name"]), var["name"]


def produced_secret_keys(recording, namespace: str, name: str) -> set[str]:
    """Keys of a Secret produced by an ExternalSecret or the CloudNativePG operator."""
    for es in recording.objects("ExternalSecret", namespace):
        spec = es.plain["spec"]
        if spec["target"]["name"] == name:
            template = spec["target"].get("template", {}).get("data")
            return set(template) if template else {d["secretKey"] for d in spec["data"]}
    for cluster in recording.objects("Cluster", namespace):
        if name == f"{cluster.k8s_name}-app":
            from event_platform.components.postgres_cluster import APP_SECRET_KEYS
            return set(APP_SECRET_KEYS)
    return set()


def test_the_settings_the_config_map_sets_are_settings_the_collector_reads(recording) -> None:
    known = {name.upper() for name in Settings.model_fields}
    for env in environments(recording):
        data = recording.object("ConfigMap", "collector-config", env).plain["data"]
        c = container(recording.object("Deployment", "collector", env))
        assert set(data) | {v["name"] for v in c["env"]} <= known


def test_rolling_updates_never_drop_below_the_desired_count_and_the_autoscaler_owns_replicas(recording) -> None:
    for env, env_cfg in environments(recording).items():
        spec = recording.object("Deployment", "collector", env).plain["spec"]
        assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        assert "replicas" not in spec, "the Deployment would fight the HPA over replicas"
        hpa = recording.object("HorizontalPodAutoscaler", "collector", env).plain["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (env_cfg.replicas, env_cfg.max_replicas)
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "collector"}


def test_the_grace_period_outlasts_the_pre_stop_pause_and_the_drain(recording) -> None:
    for env in environments(recording):
        d = recording.object("Deployment", "collector", env)
        data = recording.object("ConfigMap", "collector-config", env).plain["data"]
        pause = container(d)["lifecycle"]["preStop"]["sleep"]["seconds"]
        drain = int(data["DRAIN_SECONDS"]) + int(data["SHUTDOWN_DELAY_SECONDS"])
        assert pod_spec(d)["terminationGracePeriodSeconds"] > pause + drain


def test_no_container_in_an_app_namespace_runs_as_root(recording) -> None:
    for env in environments(recording):
        for workload in recording.objects(namespace=env):
            template = (workload.plain.get("spec") or {}).get("template")
            if not template:
                continue
            pod_ctx = template["spec"].get("securityContext", {})
            for c in template["spec"]["containers"]:
                ctx = {**pod_ctx, **c.get("securityContext", {})}
                assert ctx.get("runAsNonRoot") is True, f"{workload.kind}/{workload.k8s_name}/{c['name']}"
                assert ctx.get("runAsUser", 1) != 0
                assert c.get("securityContext", {}).get("allowPrivilegeEscalation") is False


def test_the_collector_runs_read_only_with_only_tmp_writable(recording) -> None:
    for env in environments(recording):
        d = recording.object("Deployment", "collector", env)
        c = container(d)
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert [m["mountPath"] for m in c["volumeMounts"]] == ["/tmp"]
        assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_pods_spread_across_nodes_strictly_only_on_a_real_cluster(recording) -> None:
    strict = stack_config(recording.stack).cluster.type == "managed"
    for env in environments(recording):
        (spread,) = pod_spec(recording.object("Deployment", "collector", env))["topologySpreadConstraints"]
        assert spread["topologyKey"] == "kubernetes.io/hostname"
        assert spread["whenUnsatisfiable"] == ("DoNotSchedule" if strict else "ScheduleAnyway")


def test_every_environment_runs_the_image_built_from_source_by_digest(recording) -> None:
    (build,) = recording.of_type("docker-build:index:Image")
    assert build.plain["tags"][0].endswith(f":{component_image_tag()}")
    for env in environments(recording):
        image = container(recording.object("Deployment", "collector", env))["image"]
        assert "@sha256:" in image and ":latest" not in image


def component_image_tag() -> str:
    from event_platform.components.collector_image import source_tag
    return source_tag()


def test_the_source_tag_changes_when_the_source_changes(tmp_path) -> None:
    from event_platform.components.collector_image import source_tag
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / ".dockerignore").write_text("tests\n")
    before = source_tag(tmp_path)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("ignored\n")
    assert source_tag(tmp_path) == before, "files the build context ignores must not change the tag"
    (tmp_path / "app.py").write_text("print(2)\n")
    assert source_tag(tmp_path) != before


def record_dev(**changes) -> offline.Recording:
    cfg = stack_config("dev")
    collector = cfg.collector.model_copy(update=changes)
    return offline.record(cfg.model_copy(update={"collector": collector}))


def test_a_config_change_changes_the_pod_template_so_pods_roll() -> None:
    base = record_dev()
    changed = record_dev(log_level="warning")
    def checksum(rec):
        return rec.object("Deployment", "collector", "dev").plain["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"]
    assert checksum(base) != checksum(changed)


@pytest.fixture(scope="module")
def with_canary() -> offline.Recording:
    from event_platform.config import CanaryConfig
    cfg = stack_config("dev")
    env = cfg.collector.environments["dev"].model_copy(
        update={"canary": CanaryConfig(image="localhost:5001/event-collector:2.0.0", weight=10)})
    collector = cfg.collector.model_copy(update={"environments": {"dev": env}})
    return offline.record(cfg.model_copy(update={"collector": collector}))


def test_a_canary_splits_the_route_by_weight_between_two_existing_backends(with_canary) -> None:
    refs = with_canary.object("HTTPRoute", "collector", "dev").plain["spec"]["rules"][0]["backendRefs"]
    assert {r["name"]: r["weight"] for r in refs} == {"collector": 90, "collector-canary": 10}
    assert sum(r["weight"] for r in refs) == 100
    stable = with_canary.object("Deployment", "collector", "dev")
    canary = with_canary.object("Deployment", "collector-canary", "dev")
    assert container(canary)["image"] == "localhost:5001/event-collector:2.0.0"
    for ref, deployment in (("collector", stable), ("collector-canary", canary)):
        selector = with_canary.object("Service", ref, "dev").plain["spec"]["selector"]
        labels = deployment.plain["spec"]["template"]["metadata"]["labels"]
        assert selects(selector, labels)
        other = canary if deployment is stable else stable
        assert not selects(selector, other.plain["spec"]["template"]["metadata"]["labels"])


def test_without_a_canary_all_traffic_goes_to_the_stable_version(recording) -> None:
    for env in environments(recording):
        refs = recording.object("HTTPRoute", "collector", env).plain["spec"]["rules"][0]["backendRefs"]
        assert [(r["name"], r.get("weight", 1)) for r in refs] in ([("collector", 100)], [("collector", 1)])
        assert not [d for d in recording.objects("Deployment", env) if d.k8s_name == "collector-canary"]


def test_the_source_tag_follows_dockerignore_rules_including_re_included_files(tmp_path) -> None:
    """The collector's .dockerignore excludes everything and re-includes what the build needs; a tag
    that ignored the `!` lines would never change and `pulumi up` would never ship new code."""
    from event_platform.components.collector_image import COLLECTOR_SOURCE, docker_ignored, source_tag
    patterns = ["*", "!src/", "src/**/__pycache__", "!requirements.txt"]
    assert not docker_ignored("src/collector/app.py", patterns)
    assert docker_ignored("src/collector/__pycache__/app.cpython-311.pyc", patterns)
    assert docker_ignored("tests/test_x.py", patterns)
    assert not docker_ignored("requirements.txt", patterns)
    (tmp_path / ".dockerignore").write_text((COLLECTOR_SOURCE / ".dockerignore").read_text())
    (tmp_path / "src" / "collector").mkdir(parents=True)
    (tmp_path / "src" / "collector" / "app.py").write_text("v1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_app.py").write_text("t1\n")
    before = source_tag(tmp_path)
    (tmp_path / "tests" / "test_app.py").write_text("t2\n")
    assert source_tag(tmp_path) == before
    (tmp_path / "src" / "collector" / "app.py").write_text("v2\n")
    assert source_tag(tmp_path) != before


def test_the_dockerfiles_default_base_image_is_the_pinned_one() -> None:
    """`docker build apps/collector` by hand and `pulumi up` must build on the same base."""
    from event_platform import versions
    from event_platform.components.collector_image import COLLECTOR_SOURCE
    dockerfile = (COLLECTOR_SOURCE / "Dockerfile").read_text()
    assert f"ARG BASE_IMAGE={versions.COLLECTOR_BASE_IMAGE}\n" in dockerfile


def test_pods_pull_with_the_registry_secret_only_where_the_registry_needs_one(recording) -> None:
    """A private prod registry without pull credentials leaves every pod in ImagePullBackOff."""
    key = stack_config(recording.stack).collector.registry.pull_secret_key
    for env in environments(recording):
        pulls = pod_spec(recording.object("Deployment", "collector", env)).get("imagePullSecrets", [])
        if key is None:
            assert pulls == []
            continue
        assert pulls == [{"name": component.PULL_SECRET}]
        target = recording.object("ExternalSecret", component.PULL_SECRET, env).plain["spec"]["target"]
        assert target["template"]["type"] == "kubernetes.io/dockerconfigjson"
        assert set(target["template"]["data"]) == {".dockerconfigjson"}


def test_extra_pod_annotations_given_to_the_collector_reach_its_pods(monkeypatch) -> None:
    """The hook the Redis password rotation uses: an annotation the stack gives the collector (e.g. a
    checksum of the rotated password) lands on the pod template, so a change rolls the pods."""
    from event_platform import stack
    real = stack.CollectorArgs
    monkeypatch.setattr(stack, "CollectorArgs",
                        lambda **kwargs: real(**kwargs, pod_annotations={"checksum/redis-password": "abc123"}))
    rec = offline.record(stack_config("dev"))
    annotations = rec.object("Deployment", "collector", "dev").plain["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/redis-password"] == "abc123"
    assert "checksum/config" in annotations
