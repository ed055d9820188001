"""The generic web-service component: names that never collide, labels that stay valid for any image
reference, pods that wait for what they use, routes that publish only what a client needs, and the
hook that lets a dependency roll the pods."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml
from starlette.routing import Route

from collector.app import EVENTS_PATH, LIVENESS_PATH, METRICS_PATH, OPENAPI_PATH, READINESS_PATH, create_app
from collector.settings import Settings
from event_platform import labels, offline, render
from event_platform.components import collector as collector_component
from event_platform.components.web_service import WebService
from event_platform.components.web_service_args import WebServiceArgs, version_label
from event_platform.config import CanaryConfig
from harness import shared_path, stack_config

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
"""Kubernetes label value syntax (apimachinery validation.IsValidLabelValue), at most 63 characters."""
DIGEST = "sha256:" + "ab12" * 16
OPERATIONS = (METRICS_PATH, OPENAPI_PATH, READINESS_PATH, LIVENESS_PATH)


def valid_label_value(value: str) -> bool:
    return len(value) <= 63 and bool(LABEL_VALUE.match(value))


def record_dev_with_canary(image: str) -> offline.Recording:
    cfg = stack_config("dev")
    env = cfg.collector.environments["dev"].model_copy(update={"canary": CanaryConfig(image=image, weight=10)})
    collector = cfg.collector.model_copy(update={"environments": {"dev": env}})
    return offline.record(cfg.model_copy(update={"collector": collector}))


@pytest.mark.parametrize(("image", "version"), [
    (f"localhost:5001/event-collector@{DIGEST}", "sha256-ab12ab12ab12"),
    ("localhost:5001/event-collector:2.0.0", "2.0.0"),
    (f"localhost:5001/event-collector:2.0.0@{DIGEST}", "2.0.0"),
], ids=["by-digest", "by-tag", "by-tag-at-digest"])
def test_a_canary_by_digest_by_tag_and_by_tag_at_digest_each_renders_a_valid_deployment(image, version) -> None:
    """Issue 11 item 4: a canary pinned by digest used the digest as its version label (71 characters),
    which the API server refuses, so the canary could never deploy."""
    canary = record_dev_with_canary(image).object("Deployment", "collector-canary", "dev").plain
    template = canary["spec"]["template"]
    assert template["metadata"]["labels"][labels.VERSION] == version
    for key, value in {**canary["metadata"]["labels"], **template["metadata"]["labels"]}.items():
        assert valid_label_value(value), (key, value)
    assert template["spec"]["containers"][0]["image"] == image


@pytest.mark.parametrize("image", [f"localhost:5001/event-collector@{DIGEST}",
                                   f"localhost:5001/event-collector:2.0.0@{DIGEST}"], ids=["by-digest", "by-tag-at-digest"])
def test_a_canary_by_digest_passes_validate_manifests(image, tmp_path) -> None:
    """The dev stack with a canary pinned by digest passes the shared validator with 0 failed, and every
    pod-template label in it is a valid label value (the API server refuses the Deployment otherwise)."""
    tools = shared_path("EVENT_PLATFORM_TOOLS", "the validate-manifests tool")
    schemas = shared_path("EVENT_PLATFORM_CRD_SCHEMAS", "the upstream CRD schemas")
    rendered = render.render(record_dev_with_canary(image))
    for name, text in rendered.items():
        (tmp_path / name).write_text(text)
    assert "name: collector-canary" in rendered["collector-dev.yaml"]
    run = subprocess.run([sys.executable, str(tools / "validate-manifests"), "--k8s-version", "1.34", "--crd-dir",
                          str(schemas), str(tmp_path)],
                         check=False, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip().endswith(" 0 failed"), run.stdout + run.stderr
    # this validator checks top-level metadata; pod-template labels are checked here, as the API server would
    templates = [doc["spec"]["template"] for text in rendered.values() for doc in yaml.safe_load_all(text)
                 if isinstance(doc, dict) and isinstance((doc.get("spec") or {}).get("template"), dict)]
    assert templates
    bad = [(k, v) for t in templates for k, v in t["metadata"]["labels"].items() if not valid_label_value(v)]
    assert bad == []


@pytest.mark.parametrize("tag", ["v" + "1" * 127, "_build.1-", "1.0.0-rc.1+meta".replace("+", "-")])
def test_the_version_label_of_the_longest_and_oddest_tags_config_allows_is_a_valid_label(tag: str) -> None:
    """Tags may be 128 characters and start or end with `_`, `.` or `-`; a label may not. If this fails,
    a valid image reference in config produces a Deployment the API server refuses."""
    value = version_label(f"registry.example.com/team/app:{tag}")
    assert valid_label_value(value) and value
    assert version_label(f"registry.example.com/team/app:{tag}") == value, "stable across runs"


def test_the_collector_waits_for_its_database_cluster_and_its_redis_before_rolling_out(recording) -> None:
    """Issue 11 item 7: the first `pulumi up` raced the database; the collector rollout timed out
    while Postgres was still initialising. The Deployment depends on the Cluster, which pulumi-kubernetes
    holds until its Ready condition (`pulumi.com/waitFor`), and on the Redis StatefulSet, whose rollout
    pulumi-kubernetes awaits by default."""
    for env in stack_config(recording.stack).collector.environments:
        deployment = recording.object("Deployment", "collector", env)
        cluster = next(iter(recording.objects("Cluster", env)))
        redis = next(s for s in recording.objects("StatefulSet", env) if s.k8s_name == "redis")
        assert recording.depends_on(deployment, cluster)
        assert recording.depends_on(deployment, redis)
        assert not recording.depends_on(cluster, deployment)
        annotations = cluster.plain["metadata"]["annotations"]
        assert annotations["pulumi.com/waitFor"] == "condition=Ready"
        for waited in (cluster, deployment):
            seconds = int(waited.plain["metadata"]["annotations"]["pulumi.com/timeoutSeconds"])
            assert 900 <= seconds <= 3600, "long enough for a laptop's first image pulls, not forever"


def served_paths() -> set[str]:
    return {r.path for r in create_app(Settings(_env_file=None)).routes if isinstance(r, Route)}


def route_prefixes(route: offline.Resource) -> list[str]:
    return [m["path"]["value"] for rule in route.plain["spec"]["rules"] for m in rule["matches"]
            if m["path"]["type"] == "PathPrefix"]


def test_the_collector_publishes_only_its_api_and_keeps_operations_endpoints_inside(recording) -> None:
    """Issue 12 item 4: `/metrics` (tenant names), `/openapi.json` and `/readyz` answered on the public
    hostname. Every route of the collector (the redirect too) matches only the client API, which the
    collector serves; no operations endpoint falls under any of its prefixes."""
    served = served_paths()
    for env in stack_config(recording.stack).collector.environments:
        routes = [r for r in recording.objects("HTTPRoute", env) if r.k8s_name.startswith("collector")]
        assert routes
        for route in routes:
            prefixes = route_prefixes(route)
            assert prefixes == [EVENTS_PATH] and EVENTS_PATH in served
            for path in OPERATIONS:
                assert path in served
                assert not any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes), path


def test_the_deploy_smoke_test_asks_the_public_api_not_an_operations_endpoint() -> None:
    """If this fails, the smoke test reaches an endpoint the Gateway no longer publishes (it would fail
    on a healthy stack) or checks nothing a client uses."""
    from harness import REPO_ROOT
    workflow = (REPO_ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    smoke = workflow[workflow.index("name: Smoke check"):]
    smoke = smoke[:smoke.index("- name:", 1)]
    assert f"{EVENTS_PATH}" in smoke and "Authorization: Bearer" in smoke
    assert not any(f"$host{p}" in smoke for p in OPERATIONS)


@pytest.fixture(scope="module")
def with_extra_services() -> offline.Recording:
    """The dev stack plus two services built directly on the component, one with pod annotations."""
    from event_platform import stack
    cfg = stack_config("dev")
    recording = offline.mock_engine("dev")
    platform = stack.build(cfg)
    for name, extra in (("alpha", {"checksum/redis-password": "abc123"}), ("beta", {})):
        WebService(f"extra-{name}", WebServiceArgs(
            name=name, namespace=platform.tenancy.apps["dev"], image=f"ghcr.io/team/{name}:1.0.0", version="1.0.0",
            # the dev namespace owns events.localtest.me on the Gateway: each service takes a path of it
            port=8080, gateway=platform.gateway, hostname="events.localtest.me", paths=(f"/{name}",),
            config={"GREETING": "hi"}, pod_annotations=extra, replicas=1, max_replicas=2,
            observability=platform.observability, metrics_path="/metrics"))
    offline.settle()
    return recording


def test_extra_pod_annotations_reach_the_pod_template_so_a_dependency_can_roll_the_pods(with_extra_services) -> None:
    """The hook for the Redis password rotation: a changed annotation value changes the pod template,
    and only that service's."""
    alpha = with_extra_services.object("Deployment", "alpha", "dev").plain["spec"]["template"]["metadata"]
    beta = with_extra_services.object("Deployment", "beta", "dev").plain["spec"]["template"]["metadata"]
    assert alpha["annotations"]["checksum/redis-password"] == "abc123"
    assert "checksum/redis-password" not in beta["annotations"]
    assert "checksum/config" in alpha["annotations"]


def test_two_services_in_one_namespace_never_share_an_object_name(with_extra_services) -> None:
    """If this fails, the second service overwrites the first's Deployment, Service, route or policy."""
    seen: dict[tuple[str, str, str], str] = {}
    for r in with_extra_services.objects(namespace="dev"):
        key = (r.kind, r.namespace, r.k8s_name)
        assert key not in seen, f"{key} declared by {seen.get(key)} and {r.name}"
        seen[key] = r.name
    for name in ("alpha", "beta"):
        for kind in ("Deployment", "Service", "ServiceAccount", "HTTPRoute", "PodDisruptionBudget",
                     "HorizontalPodAutoscaler", "ServiceMonitor", "ConfigMap", "NetworkPolicy"):
            assert [r for r in with_extra_services.objects(kind, "dev") if r.k8s_name.startswith(name)], (name, kind)


def test_each_service_opens_only_its_own_port_to_the_gateway_and_prometheus(with_extra_services) -> None:
    """NetworkPolicies follow from what the service exposes: the Gateway and Prometheus reach exactly
    its pods on its port; another service's pods stay closed."""
    for name in ("alpha", "beta"):
        mine = [p.plain["spec"] for p in with_extra_services.objects("NetworkPolicy", "dev")
                if p.k8s_name in (f"{name}-from-gateway", f"{name}-from-prometheus")]
        assert len(mine) == 2
        for spec in mine:
            assert spec["podSelector"]["matchLabels"][labels.NAME] == name
            assert [p["port"] for rule in spec["ingress"] for p in rule["ports"]] == [8080]


def test_the_collector_keeps_its_logical_names_so_pulumi_up_updates_in_place(recording) -> None:
    """A changed URN is a delete and create in `pulumi up` (the collector's Deployment and Service would
    be replaced). Its resources keep the names they had before the generic component, and each child of
    the new WebService is aliased to its earlier parent, the Collector (grandchildren follow their
    parent's alias)."""
    for env in stack_config(recording.stack).collector.environments:
        (collector,) = [r for r in recording.of_type("event-platform:collector:Collector")
                        if r.name == f"collector-{env}"]
        (web,) = [r for r in recording.children(collector) if r.type == "event-platform:app:WebService"]
        moved = recording.children(web)
        assert len(moved) >= 8
        assert all(collector.urn in r.alias_parents for r in moved), [r.name for r in moved
                                                                      if collector.urn not in r.alias_parents]
        names = {r.name for r in recording if r.namespace == env and r.k8s_name
                 and r.k8s_name.startswith("collector")}
        prefix = f"collector-{env}"
        assert {f"{prefix}-config", f"{prefix}-account", f"{prefix}-stable-deployment", f"{prefix}-stable-service",
                f"{prefix}-route-route", f"{prefix}-pdb", f"{prefix}-hpa", f"{prefix}-auth",
                f"{prefix}-monitoring-service-monitor"} <= names


def test_the_collector_contract_and_the_component_agree_on_what_is_public() -> None:
    """The contract's public paths are served by the collector and are not operations endpoints."""
    assert set(collector_component.CONTRACT.public_paths) <= served_paths()
    assert not set(collector_component.CONTRACT.public_paths) & set(OPERATIONS)
