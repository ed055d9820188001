"""Stack configuration: the committed stack files are valid, and every kind of bad value is refused
with one line that names the key, the value and what was expected."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from event_platform import config

REPO_ROOT = Path(__file__).resolve().parents[1]


def stack_file(stack: str) -> dict:
    return yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def error_for(stack: str, mutate) -> str:
    raw = copy.deepcopy(stack_file(stack))
    mutate(raw)
    with pytest.raises(config.ConfigError) as caught:
        config.from_mapping(stack, raw, f"Pulumi.{stack}.yaml")
    return str(caught.value)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_committed_stack_file_is_valid(stack: str) -> None:
    """If this fails, `pulumi up` on that stack stops before declaring anything."""
    cfg = config.load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml")
    assert cfg.stack == stack
    assert set(cfg.collector.environments) == set(cfg.namespaces.app_names)


def test_dev_targets_kind_and_prod_a_real_cluster_with_staging_and_production() -> None:
    """The two stacks are the two places the story deploys to."""
    dev = config.load_stack_file(REPO_ROOT / "Pulumi.dev.yaml")
    prod = config.load_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    assert (dev.cluster.type, dev.gateway.service_type) == ("kind", "NodePort")
    assert (prod.cluster.type, prod.gateway.service_type) == ("managed", "LoadBalancer")
    assert prod.namespaces.app_names == ("staging", "production")
    assert dev.cluster.context == "kind-event-platform"


def test_a_wrong_type_names_the_key_the_value_and_the_expected_type() -> None:
    message = error_for("dev", lambda c: c["event-platform:postgres"].update(instances="three"))
    assert message == ("Pulumi.dev.yaml: event-platform:postgres.instances: got 'three'; "
                       "expected a valid integer, unable to parse string as an integer")


def test_an_unknown_key_is_refused_with_the_keys_that_are_allowed() -> None:
    """A typo must not silently fall back to a default."""
    message = error_for("dev", lambda c: c["event-platform:gateway"].update(serviceTyp="NodePort"))
    # the value (not secret here) is the hint that tells which line of the file is meant
    assert message.startswith("Pulumi.dev.yaml: event-platform:gateway.serviceTyp: unknown key (value 'NodePort');")
    assert "expected one of: domain, serviceType," in message


def test_an_unknown_top_level_section_is_refused() -> None:
    message = error_for("dev", lambda c: c.update({"event-platform:observabilty": {}}))
    assert "event-platform:observabilty: unknown key" in message
    assert "observability" in message


def test_zero_replicas_in_prod_is_an_impossible_value() -> None:
    message = error_for("prod", lambda c: c["event-platform:collector"]["environments"]["production"]
                        .update(replicas=0))
    assert message == ("Pulumi.prod.yaml: event-platform:collector.environments.production.replicas: got 0; "
                       "expected greater than or equal to 1")


def test_one_replica_on_a_managed_cluster_is_refused_because_a_drain_would_stop_the_service() -> None:
    message = error_for("prod", lambda c: c["event-platform:collector"]["environments"]["staging"]
                        .update(replicas=1))
    assert "collector.environments.staging.replicas is 1 on a managed cluster" in message
    assert "expected at least 2" in message


def test_a_value_outside_its_set_names_the_allowed_values() -> None:
    message = error_for("dev", lambda c: c["event-platform:collector"].update(logLevel="loud"))
    assert message == ("Pulumi.dev.yaml: event-platform:collector.logLevel: got 'loud'; "
                       "expected 'debug', 'info', 'warning' or 'error'")


def test_a_malformed_quantity_says_what_a_quantity_looks_like() -> None:
    message = error_for("dev", lambda c: c["event-platform:namespaces"]["apps"][0]["quota"]
                        .update(requestsMemory="lots"))
    assert message == ("Pulumi.dev.yaml: event-platform:namespaces.apps.0.quota.requestsMemory: got 'lots'; "
                       "expected a Kubernetes quantity such as 500m, 2, 512Mi or 10Gi")


def test_a_missing_required_section_is_named() -> None:
    message = error_for("dev", lambda c: c.pop("event-platform:gateway"))
    assert message == "Pulumi.dev.yaml: event-platform:gateway: required key is missing"


def test_collector_environments_must_match_the_app_namespaces() -> None:
    message = error_for("dev", lambda c: c["event-platform:collector"]["environments"].update(
        qa={"hostname": "qa.localtest.me"}))
    assert "collector.environments names ['dev', 'qa']; expected exactly the app namespaces ['dev']" in message


def test_a_canary_on_latest_is_refused() -> None:
    message = error_for("dev", lambda c: c["event-platform:collector"]["environments"]["dev"].update(
        canary={"image": "localhost:5001/event-collector:latest", "weight": 10}))
    assert message == ("Pulumi.dev.yaml: event-platform:collector.environments.dev.canary.image: "
                       "got 'localhost:5001/event-collector:latest'; "
                       "expected an explicit version tag, not :latest (a rollout must be reproducible)")


def test_a_canary_image_without_a_tag_is_refused() -> None:
    message = error_for("dev", lambda c: c["event-platform:collector"]["environments"]["dev"].update(
        canary={"image": "localhost:5001/event-collector", "weight": 10}))
    assert "expected an image reference with an explicit tag or digest" in message


def test_an_unknown_secret_store_provider_lists_the_supported_ones() -> None:
    message = error_for("dev", lambda c: c["event-platform:secrets"]["store"].update(provider="dropbox"))
    assert "event-platform:secrets.store" in message
    assert "'kubernetes', 'vault', 'aws'" in message


def test_several_bad_values_give_one_line_each_and_no_pydantic_dump() -> None:
    def mutate(c: dict) -> None:
        c["event-platform:postgres"]["instances"] = 0
        c["event-platform:redis"]["storageSize"] = "big"

    lines = error_for("dev", mutate).splitlines()
    assert len(lines) == 2
    assert all(line.startswith("Pulumi.dev.yaml: event-platform:") for line in lines)
    assert not any("pydantic" in line or "validation error" in line for line in lines)


def write_stack(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": raw}))
    return path


def test_a_secure_value_in_the_wrong_place_is_refused_without_echoing_it(tmp_path: Path) -> None:
    """Errors end up in CI logs. A `secure:` value where an integer belongs is invalid, so its
    (placeholder) value would be printed if redaction failed: this test fails if errors print raw values."""
    raw = copy.deepcopy(stack_file("dev"))
    raw["event-platform:postgres"]["instances"] = {"secure": "v1:c2VjcmV0"}
    with pytest.raises(config.ConfigError) as caught:
        config.load_stack_file(write_stack(tmp_path, raw))
    message = str(caught.value)
    assert message == "Pulumi.dev.yaml: event-platform:postgres.instances: got [secret]; " \
                      "expected a valid integer, unable to parse string as an integer"


@pytest.mark.parametrize("key, value", [
    ("passwrd", "hunter2-typo"),          # a misspelt secret, still named like one
    ("pw", "hunter2-pw"),                 # an unknown key beside a secret field: may be a misspelt password
    ("password", 424242),                 # a secret field with an invalid (non-string) value
    ("extra", {"apiToken": "tok-123"}),   # an unknown key holding a secret-named key, one level down
])
def test_no_error_under_the_registry_shows_a_value_that_may_be_secret(key: str, value: object) -> None:
    """`registry.passwrd: unknown key (value 'hunter2-typo')` leaked a password into CI logs (issue 12,
    item 6): a value that is, or may be, secret is shown as [secret] whatever the error."""
    message = error_for("dev", lambda c: c["event-platform:collector"]["registry"].update({key: value}))
    assert f"event-platform:collector.registry.{key}:" in message
    assert "[secret]" in message
    for shown in ("hunter2", "424242", "tok-123"):  # "hunter2" also covers "hunter2-pw"
        assert shown not in message


def test_an_unknown_key_named_like_a_secret_is_not_echoed_anywhere_in_the_file() -> None:
    """A secret-named key (token, key, secret, password) in a section with no secret field is still
    redacted: the name says what the value is."""
    message = error_for("dev", lambda c: c["event-platform:gateway"].update(apiToken="tok-abc"))
    assert "event-platform:gateway.apiToken: unknown key (value [secret])" in message
    assert "tok-abc" not in message


def test_a_secure_value_offline_becomes_a_secret_placeholder(tmp_path: Path) -> None:
    raw = copy.deepcopy(stack_file("dev"))
    raw["event-platform:collector"]["registry"].update(username="ci", password={"secure": "v1:abc"})
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": raw}))
    cfg = config.load_stack_file(path)
    assert cfg.collector.registry.password.get_secret_value().startswith("offline-placeholder-for-")
    assert "v1:abc" not in repr(cfg)


def test_a_file_that_is_not_a_stack_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "dev.yaml"
    path.write_text("config: {}\n")
    with pytest.raises(config.ConfigError, match="expected a stack file named Pulumi.<stack>.yaml"):
        config.load_stack_file(path)


def _collector_dev(raw: dict) -> dict:
    return raw["event-platform:collector"]["environments"]["dev"]


def _a_service_in_dev(raw: dict) -> dict:
    raw["event-platform:teams"] = [{"name": "greetings", "environments": {"dev": {}}, "services": [
        {"name": "greeter", "image": "ghcr.io/example-team/greeter:1.4.2", "port": 8080,
         "environments": {"dev": {"hostname": "greeter.localtest.me"}}}]}]
    return raw["event-platform:teams"][0]["services"][0]["environments"]["dev"]


@pytest.mark.parametrize("environment", [_collector_dev, _a_service_in_dev], ids=["collector", "service"])
def test_an_autoscaler_ceiling_below_its_floor_is_refused_for_the_collector_and_every_service(environment) -> None:
    """If this fails, `maxReplicas: 1` under `replicas: 3` reaches the HorizontalPodAutoscaler, which the
    API server refuses at `pulumi up` (minReplicas must not exceed maxReplicas)."""
    message = error_for("dev", lambda raw: environment(raw).update({"replicas": 3, "maxReplicas": 1}))
    assert "maxReplicas 1 is below replicas 3; expected maxReplicas >= replicas" in message
