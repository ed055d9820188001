"""Onboarding by config: a team in `teams:`, and a `services:` entry of it, give another team's image
everything the collector has, in the team's own namespace.

The fixture `tests/fixtures/Pulumi.onboarding.yaml` is the dev stack plus two teams with a service each
(`greetings`/`greeter`, database-free and settings-free; `payments`/`billing`, with a database, settings,
a secret, metrics and an external call); it is also the example of docs/onboarding.md. It renders,
validates, passes the policy pack, and its graph holds: hostname -> route -> Service -> pods, secrets
-> produced keys, database -> `-app` Secret -> DATABASE_URL, metrics -> monitor -> Service.
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
from event_platform.config import team_namespace
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
TEAMS_KEY = "event-platform:teams"
DEV = "dev"
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
def test_the_fixture_is_the_dev_stack_plus_teams_only() -> None:
    """If this fails, the fixture drifted from dev and proves something about a stack nobody runs (teams
    added to dev itself stay dev's: only the rest is compared)."""
    fixture = fixture_document()["config"]
    dev = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    assert {k: v for k, v in fixture.items() if k != TEAMS_KEY} == {k: v for k, v in dev.items() if k != TEAMS_KEY}
    assert [(t["name"], [s["name"] for s in t["services"]]) for t in fixture[TEAMS_KEY]] == [
        ("greetings", ["greeter"]), ("payments", ["billing"])]


def service_blocks() -> dict[str, list[str]]:
    """Each service's lines of stack YAML, as a team would write them."""
    text = FIXTURE.read_text()
    body = text[text.index(f"  {TEAMS_KEY}:\n"):].splitlines()[1:]
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in body:
        if line.startswith("        - name: "):
            current = blocks.setdefault(line.split(": ", 1)[1], [])
        elif not line.startswith("          "):
            current = None
        if current is not None:
            current.append(line)
    return blocks


def test_a_typical_service_takes_at_most_15_lines_of_stack_yaml() -> None:
    """The issue's target: onboarding is a few lines, not a copy of the collector's component."""
    blocks = service_blocks()
    assert set(blocks) == {"greeter", "billing"}
    assert all(len(lines) <= 15 for lines in blocks.values()), {k: len(v) for k, v in blocks.items()}


def greeter(c: dict) -> dict:
    return c[TEAMS_KEY][0]["services"][0]


def billing(c: dict) -> dict:
    return c[TEAMS_KEY][1]["services"][0]


def _add(team: int, service: dict):
    return lambda c: c[TEAMS_KEY][team]["services"].append(service)


def _named(name: str, **extra) -> dict:
    return {"name": name, "image": "ghcr.io/t/x:1.0.0", "port": 8080, **extra,
            "environments": {DEV: {"hostname": f"{name}.localtest.me"}}}


@pytest.mark.parametrize(("mutate", "key", "shown", "expected"), [
    (lambda c: greeter(c).update(replica=2), "teams.0.services.0.replica", "2", "unknown key"),
    (lambda c: greeter(c).update(port=0), "teams.0.services.0.port", "0", "greater than or equal to 1"),
    (lambda c: greeter(c).update(port=70000), "teams.0.services.0.port", "70000", "less than or equal to 65535"),
    (lambda c: greeter(c).update(port="http"), "teams.0.services.0.port", "'http'", "valid integer"),
    (lambda c: billing(c)["environments"][DEV].update(hostname="greeter.localtest.me"),
     "teams[1].services[0].environments.dev.hostname", "'greeter.localtest.me'",
     "teams[0].services[0].environments.dev.hostname has it"),
    (lambda c: greeter(c)["environments"][DEV].update(hostname="events.localtest.me"),
     "teams[0].services[0].environments.dev.hostname", "'events.localtest.me'",
     "collector.environments.dev.hostname has it"),
    (lambda c: greeter(c)["environments"][DEV].update(hostname="greeter.example.org"),
     "teams[0].services[0].environments.dev.hostname", "'greeter.example.org'", "under the Gateway's domain"),
    (_add(0, _named("greeter")), "teams.0.services[1].name", "'greeter'", "services[0] (greeter) makes greeter"),
    (_add(1, _named("billing-db")), "teams.1.services[1].name", "'billing-db'",
     "collide with no other service's: services[0] (billing) makes billing-db too"),
    (lambda c: greeter(c).update(name="collector"), "teams.0.services.0.name", "'collector'",
     "a name the platform does not use"),
    (lambda c: greeter(c).update(name="redis"), "teams.0.services.0.name", "'redis'", "a name the platform does not use"),
    (lambda c: greeter(c).update(name="postgres"), "teams.0.services.0.name", "'postgres'",
     "a name the platform does not use"),
    (lambda c: greeter(c).update(name="events", database=True), "teams.0.services.0.name", "'events'",
     "a name the platform does not use"),
    (lambda c: greeter(c)["environments"].update(staging={"hostname": "g.localtest.me"}),
     "teams.0.services[0].environments", "'staging'", "one of the team's environments ['dev']"),
    (lambda c: c[TEAMS_KEY][0]["environments"].update(staging={}), "teams[0].environments", "'staging'",
     "one of the environments ['dev']"),
    (lambda c: c[TEAMS_KEY][0].update(name="platform"), "teams[0].name", "'platform'", "a team name no other team uses"),
    (lambda c: c[TEAMS_KEY][1].update(name="greetings"), "teams[1].name", "'greetings'", "no other team uses"),
    (lambda c: greeter(c).update(image="ghcr.io/example-team/greeter:latest"), "teams.0.services.0.image",
     "'ghcr.io/example-team/greeter:latest'", "not :latest"),
    (lambda c: billing(c)["secrets"].update(CURRENCY={"key": "k", "property": "p"}), "teams.1.services.0.secrets",
     "['CURRENCY']", "in env or in secrets, not both"),
    (lambda c: greeter(c).update(calls={"services": ["nobody"]}), "teams[0].services[0].calls.services[0]",
     "'nobody'", "a service (`<service>` of the team, `<team>/<service>` of another)"),
    (lambda c: greeter(c).update(imagePullSecret="registry"), "teams[0].services[0].imagePullSecret", "'registry'",
     "a real secret store"),
    (lambda c: billing(c).update(env={"DATABASE_URL": "x"}), "teams.1.services.0.env", "['DATABASE_URL']",
     "no variable the platform sets itself"),
    (lambda c: greeter(c).update(calls={"external": [{"cidr": "203.0.113.7/24", "port": 443}]}),
     "teams.0.services.0.calls.external.0.cidr", "'203.0.113.7/24'", "no host bits set"),
    (lambda c: c.update({"event-platform:services": [_named("greeter")]}), "services", "['greeter']",
     "services under their team"),
], ids=["unknown-key", "port-0", "port-too-big", "port-not-a-number", "hostname-twice-across-teams",
        "hostname-of-the-collector", "hostname-outside-the-domain", "name-twice-in-a-team", "objects-collide",
        "name-collector", "name-redis", "name-postgres", "name-making-events-db", "environment-not-the-teams",
        "team-environment-not-an-environment", "team-platform", "team-twice", "image-latest", "env-and-secret",
        "call-to-nobody", "pull-secret-from-the-dev-store", "env-the-platform-sets", "cidr-with-host-bits",
        "services-outside-a-team"])
def test_each_bad_teams_entry_gets_a_one_line_error_naming_key_value_and_expectation(
        mutate, key, shown, expected) -> None:
    """If this fails, a team's typo deploys something broken, takes over the platform's Redis or another
    service's objects, or gets an error it cannot act on."""
    line = one_line(error_for(mutate))
    assert line.startswith(f"Pulumi.onboarding.yaml: event-platform:{key}: "), line
    assert shown in line and expected in line, line


def test_a_secret_looking_env_name_is_refused_without_echoing_its_value() -> None:
    """`env:` values sit in plain text in the stack file and the ConfigMap: a token there leaks."""
    for name in ("API_TOKEN", "dbPassword", "STRIPE_SECRET_KEY"):
        line = one_line(error_for(lambda c, n=name: greeter(c).update(env={n: "hunter2-real"})))
        assert line.startswith(f"Pulumi.onboarding.yaml: event-platform:teams.0.services.0.env: got ['{name}']; "
                               "expected"), line
        assert "secrets:" in line and "hunter2-real" not in line


def test_a_value_carrying_a_credential_is_refused_without_echoing_it() -> None:
    """A URL with a password in `env:` is a secret in plain text whatever the variable is called."""
    line = one_line(error_for(lambda c: greeter(c).update(env={"UPSTREAM": "https://bot:hunter2-real@api.example.com/"})))
    assert line.startswith("Pulumi.onboarding.yaml: event-platform:teams.0.services.0.env: got ['UPSTREAM']; ")
    assert "credential" in line and "hunter2-real" not in line


def test_names_that_only_contain_a_secret_word_are_plain_settings() -> None:
    """Words, not substrings: `TOKENIZER_MODEL`, `MONKEY_MODE`, `KEYBOARD_LAYOUT` and a URL without a
    password are ordinary settings."""
    document = copy.deepcopy(fixture_document())
    greeter(document["config"]).update(env={"TOKENIZER_MODEL": "bert", "MONKEY_MODE": "on", "KEYBOARD_LAYOUT": "de",
                                            "UPSTREAM": "https://api.example.com/v1?user=me"})
    cfg = config.from_mapping("onboarding", document["config"], "Pulumi.onboarding.yaml")
    assert set(cfg.teams[0].services[0].env) == {"TOKENIZER_MODEL", "MONKEY_MODE", "KEYBOARD_LAYOUT", "UPSTREAM"}


def test_a_service_on_a_managed_cluster_needs_two_replicas() -> None:
    """One replica behind a PDB blocks node drains on a real cluster (the same rule as the collector's)."""
    prod = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"]
    prod[TEAMS_KEY] = [{"name": "greetings", "environments": {"production": {}}, "services": [
        {"name": "greeter", "image": "ghcr.io/t/greeter:1.0.0", "port": 8080,
         "environments": {"production": {"hostname": "greeter.example.com", "replicas": 1}}}]}]
    with pytest.raises(config.ConfigError) as caught:
        config.from_mapping("prod", prod, "Pulumi.prod.yaml")
    line = one_line(str(caught.value))
    assert "event-platform:teams[0].services[0].environments.production.replicas: got 1; expected at least 2" in line


# --------------------------------------------------------------------------- the fixture declared
@pytest.fixture(scope="module")
def onboarding(fixture_recordings) -> offline.Recording:
    return fixture_recordings["onboarding"]


def selects(selector: dict, pod_labels: dict) -> bool:
    return all(pod_labels.get(k) == v for k, v in selector.items())


def team_services() -> list[tuple[str, config.ServiceConfig]]:
    """(team, service) of the fixture."""
    return [(team.name, svc) for team in stack_config("onboarding").teams for svc in team.services]


def test_each_hostname_reaches_its_service_pods_through_route_service_and_named_port(onboarding) -> None:
    """hostname -> HTTPRoute (in the team's namespace) -> backend Service -> selector -> exactly one
    Deployment's pods -> the container port the service declared."""
    for team, svc in team_services():
        for env, env_cfg in svc.environments.items():
            ns = team_namespace(team, env)
            (route,) = [r for r in onboarding.objects("HTTPRoute", ns) if env_cfg.hostname in r.plain["spec"]["hostnames"]]
            assert route.k8s_name == svc.name
            spec = route.plain["spec"]
            assert [m["path"]["value"] for m in spec["rules"][0]["matches"]] == list(svc.paths)
            for ref in spec["rules"][0]["backendRefs"]:
                service = onboarding.object("Service", ref["name"], ns).plain["spec"]
                port = next(p for p in service["ports"] if p["port"] == ref["port"])
                pods = [d for d in onboarding.objects("Deployment", ns)
                        if selects(service["selector"], d.plain["spec"]["template"]["metadata"]["labels"])]
                assert [d.k8s_name for d in pods] == [svc.name]
                (container,) = pods[0].plain["spec"]["template"]["spec"]["containers"]
                assert {p["name"]: p["containerPort"] for p in container["ports"]}[port["targetPort"]] == svc.port
                assert container["image"] == svc.image


def test_the_gateway_lets_exactly_the_owning_team_namespace_attach_each_service_hostname(onboarding) -> None:
    """Each service hostname is served, and on the Gateway only its team's namespace in that environment
    can attach a route to it: another team's route cannot take it over. `tests/gateway_ownership.py`
    reads the listeners the way the Gateway API defines them, with an outside namespace that copies
    every declared label."""
    served = served_hostnames(stack_config("onboarding"))
    for team, svc in team_services():
        for env, env_cfg in svc.environments.items():
            assert served[env_cfg.hostname] == team_namespace(team, env)
            assert ownership.attachable(onboarding, env_cfg.hostname) == {team_namespace(team, env)}, env_cfg.hostname


def test_secrets_reach_the_pods_from_the_teams_own_store_and_never_appear_in_the_render(
        onboarding, fixture_rendered) -> None:
    """billing's STRIPE_API_KEY: env -> Secret `billing-secrets` key -> ExternalSecret on the store
    `team-payments` -> entry `billing-stripe`/`api-key` (seeded in the team's own store namespace);
    greeter has no secret at all."""
    ns = team_namespace("payments", DEV)
    billing_pod = onboarding.object("Deployment", "billing", ns).plain["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "STRIPE_API_KEY", "valueFrom": {"secretKeyRef": {"name": "billing-secrets",
                                                                     "key": "STRIPE_API_KEY"}}} in billing_pod["env"]
    es = onboarding.object("ExternalSecret", "billing-secrets", ns).plain["spec"]
    assert es["target"]["name"] == "billing-secrets"
    assert es["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "team-payments"}
    (data,) = es["data"]
    assert data["secretKey"] == "STRIPE_API_KEY"
    assert data["remoteRef"] == {"key": "billing-stripe", "property": "api-key"}
    assert onboarding.object("Secret", "billing-stripe", "platform-secrets-payments")
    greeter_pod = onboarding.object("Deployment", "greeter", team_namespace("greetings", DEV)).plain
    container = greeter_pod["spec"]["template"]["spec"]["containers"][0]
    assert "env" not in container and "envFrom" not in container
    assert billing_pod["envFrom"] == [{"configMapRef": {"name": "billing-config"}}]
    assert onboarding.object("ConfigMap", "billing-config", ns).plain["data"] == {"CURRENCY": "EUR", "LOG_FORMAT": "json"}
    rendered = "".join(p.read_text() for p in fixture_rendered["onboarding"].glob("*.yaml"))
    assert "mock-random-secrets" not in rendered


def test_a_service_asking_for_a_database_gets_its_own_cluster_and_its_url(onboarding) -> None:
    """`database: true`: Cluster `billing-db` in the team's namespace by the platform's database policy,
    its `-app` Secret's `uri` as DATABASE_URL, and the flow from billing's pods to it; greeter asked for
    nothing and has none."""
    ns = team_namespace("payments", DEV)
    cluster = onboarding.object("Cluster", "billing-db", ns).plain["spec"]
    cfg = stack_config("onboarding")
    assert cluster["instances"] == cfg.postgres.instances and cluster["storage"]["size"] == cfg.postgres.storage_size
    env = onboarding.object("Deployment", "billing", ns).plain["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "billing-db-app", "key": "uri"}}} in env
    greetings = team_namespace("greetings", DEV)
    assert onboarding.objects("Cluster", greetings) == [] and onboarding.objects("StatefulSet", greetings) == []


def test_each_service_has_a_dashboard_and_a_monitor_only_when_it_serves_metrics(onboarding) -> None:
    """greeter serves no metrics: a dashboard from the cluster's metrics, no ServiceMonitor and no
    Prometheus flow into its pods. billing serves /metrics: monitor, flow and dashboard."""
    for team, name, scraped in (("greetings", "greeter", False), ("payments", "billing", True)):
        ns = team_namespace(team, DEV)
        board = onboarding.object("ConfigMap", f"{name}-dashboard", ns).plain
        assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
        monitors = [m for m in onboarding.objects("ServiceMonitor", ns) if m.k8s_name == name]
        flows = [p for p in onboarding.objects("NetworkPolicy", ns) if p.k8s_name == f"{name}-from-prometheus"]
        assert (len(monitors), len(flows)) == ((1, 1) if scraped else (0, 0))
    ns = team_namespace("payments", DEV)
    (monitor,) = [m for m in onboarding.objects("ServiceMonitor", ns) if m.k8s_name == "billing"]
    service = onboarding.object("Service", "billing", ns).plain["metadata"]["labels"]
    assert selects(monitor.plain["spec"]["selector"]["matchLabels"], service)
    assert monitor.plain["spec"]["endpoints"][0]["path"] == "/metrics"


def test_the_gateway_reaches_each_service_only_on_its_port(onboarding) -> None:
    """The team namespace is default-deny: without the flow the route answers 503; a wider flow opens
    other pods."""
    for team, svc in team_services():
        (policy,) = [p.plain["spec"] for p in onboarding.objects("NetworkPolicy", team_namespace(team, DEV))
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
    assert (fixture_rendered["onboarding"] / "team-payments-dev.yaml").exists()
    assert (fixture_rendered["onboarding"] / "team-greetings-dev.yaml").exists()


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
    assert doc_example() == {TEAMS_KEY: fixture_document()["config"][TEAMS_KEY]}


def test_every_dashboard_query_of_the_fixture_is_valid_promql(promtool_binary, fixture_recordings, tmp_path) -> None:
    """The services' generic dashboard included: a typo shows as an empty graph exactly when needed.
    (The same promtool check test_alert_rules.py runs over the real stacks.)"""
    queries = dashboard_queries({"onboarding": fixture_recordings["onboarding"]})
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
        team.name: {svc.name: {env: f"http://{e.hostname}" for env, e in svc.environments.items()}
                    for svc in team.services} for team in cfg.teams}
