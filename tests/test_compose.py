"""The app team's inner loop: `compose.yaml` runs the collector with PostgreSQL, Redis and (profile
`monitoring`) Prometheus, from the Dockerfile the platform builds, with the settings the platform gives
it. Validated against the Compose specification's own JSON Schema (../shared/schemas/compose, see
SOURCES.md there: compose-spec/compose-spec schema/compose-spec.json, what Docker Compose validates with)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from collector.settings import Settings
from event_platform import versions
from event_platform.components.collector import CONTRACT
from event_platform.components.collector_image import COLLECTOR_SOURCE
from harness import REPO_ROOT, shared_path

COMPOSE = REPO_ROOT / "compose.yaml"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value: Any) -> Any:
    """What Compose does before validating: `${VAR:-default}` becomes the default (no VAR set here),
    `$$` a literal `$`."""
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: m.group(2) or "", value).replace("$$", "$")
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text()))


def test_compose_yaml_is_valid_under_the_compose_specification_schema(compose) -> None:
    """If this fails, `docker compose up` refuses the file (or silently reads a key differently)."""
    schema = json.loads(shared_path("EVENT_PLATFORM_COMPOSE_SCHEMA", "the Compose specification schema").read_text())
    errors = sorted(Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert errors == [], "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    assert set(compose["services"]) == {"collector", "postgres", "redis", "prometheus"}


def test_the_schema_check_would_catch_a_misspelt_key(compose) -> None:
    """The validation above can fail: a typo in a service is refused by the same schema."""
    schema = json.loads(shared_path("EVENT_PLATFORM_COMPOSE_SCHEMA", "the Compose specification schema").read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["collector"]["healthchek"] = broken["services"]["collector"].pop("healthcheck")
    assert list(Draft7Validator(schema).iter_errors(broken))


def test_the_collector_environment_names_are_settings_the_collector_reads(compose, recordings) -> None:
    """A misspelt name is ignored by nobody: the collector refuses unknown settings at start, and the
    names are exactly those the platform sets (its ConfigMap and Secret references), so what runs here
    is configured like what runs on the cluster."""
    environment = compose["services"]["collector"]["environment"]
    assert set(environment) <= {name.upper() for name in Settings.model_fields}
    dev = recordings["dev"]
    config_map = dev.object("ConfigMap", "collector-config", "dev").plain["data"]
    (container,) = dev.object("Deployment", "collector", "dev").plain["spec"]["template"]["spec"]["containers"]
    assert set(environment) == set(config_map) | {v["name"] for v in container["env"]}
    Settings(_env_file=None, **{k.lower(): v for k, v in environment.items()})  # and the values are valid


def test_the_collector_is_built_from_the_platforms_dockerfile_and_runs_as_locked_down(compose) -> None:
    collector = compose["services"]["collector"]
    assert (REPO_ROOT / collector["build"]["context"]).resolve() == COLLECTOR_SOURCE.resolve()
    assert collector["user"] == f"{CONTRACT.run_as_user}:{CONTRACT.run_as_user}"
    assert collector["read_only"] is True and collector["cap_drop"] == ["ALL"]
    assert any(t.startswith("/tmp") for t in collector["tmpfs"])
    assert collector["ports"] == [f"{CONTRACT.port}:{CONTRACT.port}"]
    assert CONTRACT.readiness_path in " ".join(collector["healthcheck"]["test"])
    assert {dep: c["condition"] for dep, c in collector["depends_on"].items()} == {
        "postgres": "service_healthy", "redis": "service_healthy"}


def test_the_data_services_run_the_versions_the_platform_runs(compose) -> None:
    """Postgres: the upstream image of the platform's major and minor (CloudNativePG's image has no
    standalone entrypoint, versions.TEST_POSTGRES_IMAGE); Redis: the platform's image itself."""
    assert compose["services"]["postgres"]["image"] == versions.TEST_POSTGRES_IMAGE
    assert compose["services"]["redis"]["image"] == versions.REDIS_IMAGE
    database_url = compose["services"]["collector"]["environment"]["DATABASE_URL"]
    postgres = compose["services"]["postgres"]["environment"]
    assert database_url == (f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
                            f"@postgres:5432/{postgres['POSTGRES_DB']}")


def test_prometheus_is_the_charts_version_and_scrapes_the_collectors_metrics(compose) -> None:
    """The chart's default Prometheus (kube-prometheus-stack values.yaml, prometheus.prometheusSpec.image)
    so rules and queries tried here behave as on the platform."""
    values = yaml.safe_load((shared_path("EVENT_PLATFORM_CHART_DATA", "chart reference data")
                             / "kube-prometheus-stack" / "values.yaml").read_text())
    image = values["prometheus"]["prometheusSpec"]["image"]
    prometheus = compose["services"]["prometheus"]
    assert prometheus["image"] == f"{image['registry']}/{image['repository']}:{image['tag']}"
    assert prometheus["profiles"] == ["monitoring"]
    scrape = yaml.safe_load(compose["configs"]["prometheus"]["content"])["scrape_configs"]
    (job,) = scrape
    assert job["metrics_path"] == CONTRACT.metrics_path
    assert job["static_configs"][0]["targets"] == [f"collector:{CONTRACT.port}"]
