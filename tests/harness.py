"""Helpers shared by the platform tests (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from event_platform import config

REPO_ROOT = Path(__file__).resolve().parents[1]
STACKS = ("dev", "prod")
FIXTURES = REPO_ROOT / "tests" / "fixtures"
FIXTURE_STACKS = ("onboarding", "dev-teams", "prod-teams")
"""Stacks beyond the real ones: `onboarding` (tests/fixtures: the dev stack plus two teams), and each
real stack file as it is plus teams with services asking for everything a service can ask for
(`with_teams`): every stack-wide check runs on them too, so it holds for any valid config, not only
for today's stack files."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def stack_config(stack: str) -> config.PlatformConfig:
    if stack.endswith("-teams"):
        base = stack.removesuffix("-teams")
        raw = yaml.safe_load((REPO_ROOT / f"Pulumi.{base}.yaml").read_text())["config"]
        return config.from_mapping(stack, with_teams(raw), f"Pulumi.{base}.yaml plus teams")
    if stack in FIXTURE_STACKS:
        return config.load_stack_file(FIXTURES / f"Pulumi.{stack}.yaml")
    return config.load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml")


def tenant_namespaces(cfg: config.PlatformConfig) -> list[config.AppNamespaceConfig]:
    """Every app namespace's config: the environments' own (the platform team's) and every team's."""
    from event_platform.teams import team_namespace_specs

    return [*cfg.namespaces.apps, *(spec.config for spec in team_namespace_specs(cfg))]


def with_teams(raw: dict) -> dict:
    """A stack file's config plus two more teams (after whatever teams it has), whose services ask for
    a database, a cache, secrets, metrics, pull credentials (with a real store), calls to each other's
    services and to an external host, in every environment of the stack."""
    raw = {**raw}
    envs = [ns["name"] for ns in raw["event-platform:namespaces"]["apps"]]
    domain = raw["event-platform:gateway"]["domain"]
    managed = raw["event-platform:cluster"]["type"] == "managed"
    real_store = raw["event-platform:secrets"]["store"]["provider"] != "kubernetes"
    # sized for the stack's database policy (prod: three instances of 1 CPU and 50Gi each)
    quota = {"requestsCpu": "8", "requestsMemory": "16Gi", "limitsMemory": "32Gi", "pods": 40,
             "persistentVolumeClaims": 12, "requestsStorage": "400Gi"}

    def service(name: str, port: int, **extra: object) -> dict:
        return {"name": name, "image": f"ghcr.io/example/{name}:3.1.0", "port": port, **extra,
                "environments": {env: {"hostname": f"{name}-{env}.{domain}", "replicas": 2 if managed else 1,
                                       "maxReplicas": 3} for env in envs}}

    raw["event-platform:teams"] = [*raw.get("event-platform:teams", []), {
        "name": "search", "developerGroups": ["search-developers"], "viewerGroups": ["search-viewers"],
        "environments": {env: {"quota": quota} for env in envs},
        "services": [
            service("indexer", 8080, database=True, cache=True, metricsPath="/metrics",
                    env={"TOKENIZER_MODEL": "bert-base"}, secrets={"INDEX_TOKEN": {"key": "indexer", "property": "token"}},
                    calls={"services": ["payments/ledger"], "external": [{"cidr": "198.51.100.0/24", "port": 443}]}),
            service("query", 8081, calls={"services": ["indexer"]}, progressiveDelivery=True)]}, {
        "name": "payments", "developerGroups": ["payments-developers"], "viewerGroups": ["payments-viewers"],
        "environments": {env: {"quota": quota} for env in envs},
        "services": [service("ledger", 9000, database=True,
                             **({"imagePullSecret": "registry-pull"} if real_store else {}))]}]
    return raw


def shared_path(env_var: str, what: str) -> Path:
    """A file or directory of upstream reference data named by `env_var`. Missing: the test is
    skipped with how to enable it, except in CI, where it fails."""
    value = os.environ.get(env_var)
    if value and Path(value).exists():
        return Path(value)
    message = (f"{what} not found: set {env_var} (`make test` sets it from ../shared when that exists)"
               + (f"; it is set to {value!r}, which does not exist" if value else ""))
    if in_ci():
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


def system_tool(name: str, install: str, purpose: str) -> str:
    """The path of a command-line tool from a Debian package (promtool, amtool, prometheus). Missing:
    the test is skipped saying how to install it, except in CI, where it fails."""
    path = shutil.which(name)
    if path:
        return path
    message = (f"{name} not found: install it with `apt-get update && apt-get install -y "
               f"--no-install-recommends {install}` (Debian) to {purpose}")
    if in_ci():
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)
