"""Onboarding by config: a `services:` entry gives another team's image everything the collector has.

The fixture `tests/fixtures/Pulumi.onboarding.yaml` is the dev stack plus two services (`greeter`,
database-free and settings-free; `billing`, with settings, a secret and metrics); it is also the
example of docs/onboarding.md. It renders, validates, passes the policy pack, and its graph holds:
hostname -> route -> Service -> pods, secrets -> produced keys, metrics -> monitor -> Service.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import pytest
import yaml

import gateway_ownership as ownership
from event_platform import config, labels, offline
from event_platform.stack import served_hostnames
from event_platform_policies import RESOURCE_POLICIES, STACK_POLICIES
from event_platform_policies.testing import check_resource, check_stack, stack_resource
from harness import FIXTURES, REPO_ROOT, shared_path, stack_config
from test_alert_rules import dashboard_queries, grafana_to_promql
from test_alert_rules import promtool as promtool_fixture
from test_alert_rules import run as run_promtool

promtool_binary = promtool_fixture
"""test_alert_rules.py's fixture (promtool's path; skipped outside CI, failing in CI, when missing)."""

FIXTURE = FIXTURES / "Pulumi.onboarding.yaml"
SERVICES_KEY = "event-platform:services"
DOC = REPO_ROOT / "docs" / "onboarding.md"


def fixture_document() -> dict:
    return yaml.safe_load(FIXTURE.read_text())


def error_for(mutate) -> str:
    document = copy.deepcopy(fixture_document())
    mutate(document["config"])
    with pytest.raises(config.ConfigError) as caught:
        config.from_mapping("onboarding", document["config"], "Pulumi.onboarding.yaml")
    return str(caught.value)


def one_line(message: str) -> str:
    lines = message.splitlines()
    assert len(lines) == 1, message
    return lines[0]


# ------------------------------------------------------------------------------------ the config
def test_the_fixture_is_the_dev_stack_plus_services_only() -> None:
    """If this fails, the fixture drifted from dev and proves something about a stack nobody runs."""
    fixture = fixture_document()["config"]
    dev = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    assert {k: v for k, v in fixture.items() if k != SERVICES_KEY} == dev
    assert [s["name"] for s in fixture[SERVICES_KEY]] == ["greeter", "billing"]


def service_blocks() -> dict[str, list[str]]:
    """Each service's lines of stack YAML, as a team would write them."""
    text = FIXTURE.read_text()
    body = text[text.index(f"  {SERVICES_KEY}:\n") + len(f"  {SERVICES_KEY}:\n"):].splitlines()
    blocks: dict[str, list[str]] = {}
    current: list[str] = []
    for line in body:
        if not line.startswith("    "):
            break
        if line.startswith("    - name: "):
            current = blocks.setdefault(line.split(": ", 1)[1], [])
        current.append(line)
    return blocks


def test_a_typical_service_takes_at_most_15_lines_of_stack_yaml() -> None:
    """The issue's target: onboarding is a few lines, not a copy of the collector's component."""
    blocks = service_blocks()
    assert set(blocks) == {"greeter", "billing"}
    assert all(len(lines) <= 15 for lines in blocks.values()), {k: len(v) for k, v in blocks.items()}


@pytest.mark.parametrize(("mutate", "key", "shown", "expected"), [
    (lambda c: c[SERVICES_KEY][0].update(replica=2), "services.0.replica", "2", "unknown key"),
    (lambda c: c[SERVICES_KEY][0].update(port=0), "services.0.port", "0", "greater than or equal to 1"),
    (lambda c: c[SERVICES_KEY][0].update(port=70000), "services.0.port", "70000", "less than or equal to 65535"),
    (lambda c: c[SERVICES_KEY][0].update(port="http"), "services.0.port", "'http'", "valid integer"),
    (lambda c: c[SERVICES_KEY][1]["environments"]["dev"].update(hostname="greeter.localtest.me"),
     "services[1].environments.dev.hostname", "'greeter.localtest.me'", "services[0].environments.dev.hostname has it"),
    (lambda c: c[SERVICES_KEY][0]["environments"]["dev"].update(hostname="events.localtest.me"),
     "services[0].environments.dev.hostname", "'events.localtest.me'", "collector.environments.dev.hostname has it"),
    (lambda c: c[SERVICES_KEY][0]["environments"]["dev"].update(hostname="greeter.example.org"),
     "services[0].environments.dev.hostname", "'greeter.example.org'", "under the Gateway's domain localtest.me"),
    (lambda c: c[SERVICES_KEY][1].update(name="greeter"), "services[1].name", "'greeter'", "no other service"),
    (lambda c: c[SERVICES_KEY][0].update(name="collector"), "services[0].name", "'collector'", "nor the collector"),
    (lambda c: c[SERVICES_KEY][0]["environments"].update(staging={"hostname": "g.localtest.me"}),
     "services[0].environments", "'staging'", "one of the app namespaces ['dev']"),
    (lambda c: c[SERVICES_KEY][0].update(image="ghcr.io/example-team/greeter:latest"), "services.0.image",
     "'ghcr.io/example-team/greeter:latest'", "not :latest"),
    (lambda c: c[SERVICES_KEY][1]["secrets"].update(CURRENCY={"key": "k", "property": "p"}), "services.1.secrets", "['CURRENCY']",
     "in env or in secrets, not both"),
], ids=["unknown-key", "port-0", "port-too-big", "port-not-a-number", "hostname-twice-across-services",
        "hostname-of-the-collector", "hostname-outside-the-domain", "name-twice", "name-collector",
        "environment-not-an-app-namespace", "image-latest", "env-and-secret"])
def test_each_bad_services_entry_gets_a_one_line_error_naming_key_value_and_expectation(
        mutate, key, shown, expected) -> None:
    """If this fails, a team's typo deploys something broken or gets an error it cannot act on."""
    line = one_line(error_for(mutate))
    assert line.startswith(f"Pulumi.onboarding.yaml: event-platform:{key}: "), line
    assert shown in line and expected in line, line


def test_a_secret_looking_env_name_is_refused_without_echoing_its_value() -> None:
    """`env:` values sit in plain text in the stack file and the ConfigMap: a token there leaks."""
    line = one_line(error_for(lambda c: c[SERVICES_KEY][0].update(env={"API_TOKEN": "hunter2-real"})))
    assert line.startswith("Pulumi.onboarding.yaml: event-platform:services.0.env: got ['API_TOKEN']; expected")
    assert "secrets:" in line
    assert "hunter2-real" not in line


def test_a_service_on_a_managed_cluster_needs_two_replicas() -> None:
    """One replica behind a PDB blocks node drains on a real cluster (the same rule as the collector's)."""
    prod = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"]
    prod[SERVICES_KEY] = [{"name": "greeter", "image": "ghcr.io/t/greeter:1.0.0", "port": 8080,
                           "environments": {"production": {"hostname": "greeter.example.com", "replicas": 1}}}]
    with pytest.raises(config.ConfigError) as caught:
        config.from_mapping("prod", prod, "Pulumi.prod.yaml")
    line = one_line(str(caught.value))
    assert "event-platform:services[0].environments.production.replicas: got 1; expected at least 2" in line


# --------------------------------------------------------------------------- the fixture declared
@pytest.fixture(scope="module")
def onboarding(fixture_recordings) -> offline.Recording:
    return fixture_recordings["onboarding"]


def selects(selector: dict, pod_labels: dict) -> bool:
    return all(pod_labels.get(k) == v for k, v in selector.items())


def test_each_hostname_reaches_its_service_pods_through_route_service_and_named_port(onboarding) -> None:
    """hostname -> HTTPRoute (in the service's namespace) -> backend Service -> selector -> exactly one
    Deployment's pods -> the container port the service declared."""
    for svc in stack_config("onboarding").services:
        for env, env_cfg in svc.environments.items():
            (route,) = [r for r in onboarding.objects("HTTPRoute", env)
                        if env_cfg.hostname in r.plain["spec"]["hostnames"]]
            assert route.k8s_name == svc.name
            spec = route.plain["spec"]
            assert [m["path"]["value"] for m in spec["rules"][0]["matches"]] == list(svc.paths)
            for ref in spec["rules"][0]["backendRefs"]:
                service = onboarding.object("Service", ref["name"], env).plain["spec"]
                port = next(p for p in service["ports"] if p["port"] == ref["port"])
                pods = [d for d in onboarding.objects("Deployment", env)
                        if selects(service["selector"], d.plain["spec"]["template"]["metadata"]["labels"])]
                assert [d.k8s_name for d in pods] == [svc.name]
                (container,) = pods[0].plain["spec"]["template"]["spec"]["containers"]
                assert {p["name"]: p["containerPort"] for p in container["ports"]}[port["targetPort"]] == svc.port
                assert container["image"] == svc.image


def test_the_gateway_lets_exactly_the_owning_namespace_attach_each_service_hostname(onboarding) -> None:
    """Each service hostname is served, and on the Gateway only its environment's namespace can attach a
    route to it (listener per hostname, issue 12 item 1): another team's route cannot take it over.
    `tests/gateway_ownership.py` reads the listeners the way the Gateway API defines them, with an
    outside namespace that copies every declared label."""
    cfg = stack_config("onboarding")
    served = served_hostnames(cfg)
    for svc in cfg.services:
        for env, env_cfg in svc.environments.items():
            assert served[env_cfg.hostname] == env
            assert ownership.attachable(onboarding, env_cfg.hostname) == {env}, env_cfg.hostname


def test_secrets_reach_the_pods_from_the_store_and_never_appear_in_the_render(onboarding, fixture_rendered) -> None:
    """billing's STRIPE_API_KEY: env -> Secret `billing-secrets` key -> ExternalSecret -> store entry
    `billing-stripe`/`api-key`; greeter has no secret at all."""
    billing = onboarding.object("Deployment", "billing", "dev").plain["spec"]["template"]["spec"]["containers"][0]
    (var,) = billing["env"]
    assert var == {"name": "STRIPE_API_KEY", "valueFrom": {"secretKeyRef": {"name": "billing-secrets",
                                                                            "key": "STRIPE_API_KEY"}}}
    es = onboarding.object("ExternalSecret", "billing-secrets", "dev").plain["spec"]
    assert es["target"]["name"] == "billing-secrets"
    (data,) = es["data"]
    assert data["secretKey"] == "STRIPE_API_KEY"
    assert data["remoteRef"]["key"].endswith("billing-stripe") and data["remoteRef"]["property"] == "api-key"
    greeter = onboarding.object("Deployment", "greeter", "dev").plain["spec"]["template"]["spec"]["containers"][0]
    assert "env" not in greeter and "envFrom" not in greeter
    assert billing["envFrom"] == [{"configMapRef": {"name": "billing-config"}}]
    assert onboarding.object("ConfigMap", "billing-config", "dev").plain["data"] == {"CURRENCY": "EUR",
                                                                                     "LOG_FORMAT": "json"}
    rendered = "".join(p.read_text() for p in fixture_rendered["onboarding"].glob("*.yaml"))
    assert "mock-random-secrets-billing-stripe-api-key" not in rendered


def test_each_service_has_a_dashboard_and_a_monitor_only_when_it_serves_metrics(onboarding) -> None:
    """greeter serves no metrics: a dashboard from the cluster's metrics, no ServiceMonitor and no
    Prometheus flow into its pods. billing serves /metrics: monitor, flow and dashboard."""
    for name, scraped in (("greeter", False), ("billing", True)):
        board = onboarding.object("ConfigMap", f"{name}-dashboard", "dev").plain
        assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert any(f"service-{name}-dev" in key for key in board["data"])
        monitors = [m for m in onboarding.objects("ServiceMonitor", "dev") if m.k8s_name == name]
        flows = [p for p in onboarding.objects("NetworkPolicy", "dev") if p.k8s_name == f"{name}-from-prometheus"]
        assert (len(monitors), len(flows)) == ((1, 1) if scraped else (0, 0))
    (monitor,) = [m for m in onboarding.objects("ServiceMonitor", "dev") if m.k8s_name == "billing"]
    service = onboarding.object("Service", "billing", "dev").plain["metadata"]["labels"]
    assert selects(monitor.plain["spec"]["selector"]["matchLabels"], service)
    assert monitor.plain["spec"]["endpoints"][0]["path"] == "/metrics"


def test_the_gateway_reaches_each_service_only_on_its_port(onboarding) -> None:
    """The app namespace is default-deny: without the flow the route answers 503; a wider flow opens
    other pods."""
    for svc in stack_config("onboarding").services:
        (policy,) = [p.plain["spec"] for p in onboarding.objects("NetworkPolicy", "dev")
                     if p.k8s_name == f"{svc.name}-from-gateway"]
        assert policy["podSelector"]["matchLabels"][labels.NAME] == svc.name
        assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [svc.port]


# ----------------------------------------------------------------------------- the checks it passes
def test_the_fixture_passes_validate_manifests(fixture_rendered) -> None:
    """Schemas, cross-references, LimitRange defaulting and quota fit at the largest scale (the shared
    validator) for the stack with two more services."""
    tools = shared_path("EVENT_PLATFORM_TOOLS", "the validate-manifests tool")
    schemas = shared_path("EVENT_PLATFORM_CRD_SCHEMAS", "the upstream CRD schemas")
    run = subprocess.run([sys.executable, str(tools / "validate-manifests"), "--k8s-version",
                          stack_config("onboarding").cluster.kubernetes_version, "--crd-dir", str(schemas),
                          str(fixture_rendered["onboarding"])], check=False, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip().endswith(" 0 failed"), run.stdout + run.stderr
    assert (fixture_rendered["onboarding"] / "service-billing-dev.yaml").exists()
    assert (fixture_rendered["onboarding"] / "service-greeter-dev.yaml").exists()


def test_the_fixture_passes_every_policy_of_the_pack(onboarding) -> None:
    """As policy/tests/test_policy_platform.py runs the pack over the real stacks: every resource
    through every resource policy, the whole stack through every stack policy."""
    checked = [r for r in onboarding if r.custom and r.type.startswith("kubernetes:")]
    assert [r for r in checked if r.k8s_name in ("greeter", "billing")]
    violations = [m for r in checked for policy in RESOURCE_POLICIES
                  for m in check_resource(policy, r.type, r.plain, name=r.name)]
    resources: dict = {}
    for r in onboarding:
        deps = [resources[urn] for urn in r.dependencies if urn in resources]
        resources[r.urn] = stack_resource(r.type, r.plain, name=r.name, urn=r.urn, dependencies=deps,
                                          property_dependencies={key: deps for key in r.inputs})
    violations += [m for policy in STACK_POLICIES for m, _ in check_stack(policy, list(resources.values()))]
    assert violations == [], "\n".join(violations)


# ----------------------------------------------------------------------------------------- the docs
def doc_example() -> dict:
    """The YAML block of docs/onboarding.md that follows the `example-config` marker."""
    text = DOC.read_text()
    match = re.search(r"<!-- example-config -->\s*```yaml\n(.*?)```", text, re.DOTALL)
    assert match, "docs/onboarding.md has no example-config block"
    return yaml.safe_load(match.group(1))


def test_the_onboarding_page_example_is_the_fixture_itself() -> None:
    """If this fails, the page shows a config the tests do not prove."""
    assert doc_example() == {SERVICES_KEY: fixture_document()["config"][SERVICES_KEY]}


def test_every_dashboard_query_of_the_fixture_is_valid_promql(promtool_binary, fixture_recordings, tmp_path) -> None:
    """The services' generic dashboard included: a typo shows as an empty graph exactly when needed.
    (The same promtool check test_alert_rules.py runs over the real stacks.)"""
    queries = dashboard_queries(fixture_recordings)
    assert [q for where, q in queries if "service-greeter" in where]
    rules = [{"record": f"dashboard:query_{i}:check", "expr": grafana_to_promql(expr)}
             for i, (_, expr) in enumerate(queries)]
    path = tmp_path / "dashboards.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run_promtool(promtool_binary, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_service_url_is_a_stack_output_so_its_team_can_find_it(onboarding) -> None:
    """`pulumi stack output serviceUrls` is how docs/onboarding.md tells a team where its service answers."""
    cfg = stack_config("onboarding")
    assert onboarding.outputs["serviceUrls"] == {
        svc.name: {env: f"http://{e.hostname}" for env, e in svc.environments.items()} for svc in cfg.services}
