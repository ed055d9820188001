"""Every alert and recording rule the stacks declare is valid PromQL that Prometheus accepts, and the
platform's own alerts fire exactly when they should.

* `promtool check rules` on every PrometheusRule of every stack (the platform's, each app's through
  AppMonitoring, the databases'), and on every Prometheus query of every dashboard ConfigMap (as
  recording rules, Grafana variables filled in);
* `promtool check config` on the additional scrape job (its relabel regexes);
* `promtool test rules` with synthetic series on the platform's alerts, firing and silent. The
  collector's alerts have theirs in tests/test_collector_rules.py.

promtool comes with Debian's `prometheus` package (`apt-get install --no-install-recommends
prometheus`). Without it these tests are skipped, except in CI, where they fail. The cluster runs
Prometheus 3.x; Debian 12's promtool is 2.42, so a rule using a function added in 3.x would be
refused here first (and must then be checked with a newer promtool).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from event_platform.alerts.platform_rules import platform_rule_groups
from event_platform.components import logging_stack, prometheus_stack, scraping
from harness import system_tool

MONITORING_NS = "monitoring"
GRAFANA_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__auto": "5m", "__range": "1h"}
"""Grafana's built-in interval variables, replaced by a fixed duration; other variables become `x`."""


@pytest.fixture(scope="module")
def promtool() -> str:
    return system_tool("promtool", "prometheus", "check alert rules")


def run(promtool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, check=False)


def declared_rule_files(recordings) -> dict[str, dict[str, Any]]:
    """`<stack>-<namespace>-<name>` -> rule file content, for every PrometheusRule of every stack
    and any rules passed to kube-prometheus-stack in its values."""
    files = {}
    for stack, rec in recordings.items():
        for rule in rec.objects("PrometheusRule"):
            files[f"{stack}-{rule.namespace}-{rule.k8s_name}"] = {"groups": rule.plain["spec"]["groups"]}
        kps = rec.helm_release(prometheus_stack.KPS_RELEASE).plain["values"]
        for name, extra in (kps.get("additionalPrometheusRulesMap") or {}).items():
            files[f"{stack}-values-{name}"] = {"groups": extra["groups"]}
    return files


def test_promtool_accepts_every_rule_group_the_stacks_declare(promtool, recordings, tmp_path) -> None:
    files = declared_rule_files(recordings)
    assert any(name.endswith(f"-{MONITORING_NS}-platform") for name in files), "the platform rules are missing"
    for name, content in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(content, sort_keys=False))
        result = run(promtool, "check", "rules", str(path))
        assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"
        count = sum(len(g["rules"]) for g in content["groups"])
        assert f"SUCCESS: {count} rules found" in result.stdout, result.stdout


def grafana_to_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced, so that Prometheus can parse it."""
    def value(match: re.Match) -> str:
        return GRAFANA_VARIABLES.get(match.group(1) or match.group(2), "x")
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def dashboard_queries(recordings) -> list[tuple[str, str]]:
    """(where, PromQL) of every Prometheus panel target and annotation of every dashboard ConfigMap."""
    queries = []
    for stack, rec in recordings.items():
        for cm in rec.objects("ConfigMap"):
            if (cm.metadata.get("labels") or {}).get("grafana_dashboard") != "1":
                continue
            for key, text in cm.plain["data"].items():
                board = json.loads(text)
                targets = [t for p in board.get("panels", []) for t in p.get("targets", [])]
                targets += board.get("annotations", {}).get("list", [])
                for t in targets:
                    if "expr" in t and (t.get("datasource") or {}).get("type", "prometheus") == "prometheus" \
                            and (t.get("datasource") or {}).get("uid") != "loki":
                        queries.append((f"{stack} {cm.namespace}/{cm.k8s_name} {key}", t["expr"]))
    return queries


def test_every_dashboard_prometheus_query_is_valid_promql(promtool, recordings, tmp_path) -> None:
    """A typo in a panel query shows as an empty graph exactly when someone needs it."""
    queries = dashboard_queries(recordings)
    assert queries
    rules = [{"record": f"dashboard:query_{i}:check", "expr": grafana_to_promql(expr)}
             for i, (_, expr) in enumerate(queries)]
    path = tmp_path / "dashboards.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run(promtool, "check", "rules", str(path))
    failing = "\n".join(f"{where}: {expr}" for where, expr in queries)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\nqueries:\n{failing}"


def test_the_annotation_scrape_job_is_a_valid_prometheus_scrape_config(promtool, recordings, tmp_path) -> None:
    """The operator appends it to Prometheus's configuration as is: an invalid regex there stops
    Prometheus from reloading its configuration at all. (Debian builds promtool without Kubernetes
    service discovery, so the discovery block is swapped for a static one; every relabel rule is
    still parsed.)"""
    for stack, rec in recordings.items():
        spec = rec.helm_release(prometheus_stack.KPS_RELEASE).plain["values"]["prometheus"]["prometheusSpec"]
        jobs = []
        for job in spec["additionalScrapeConfigs"]:
            assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
            jobs.append({**job, "static_configs": [{"targets": ["10.0.0.1:8080"]}]})
        path = tmp_path / f"{stack}-prometheus.yaml"
        path.write_text(yaml.safe_dump({"global": {"scrape_interval": "30s"}, "scrape_configs": jobs}))
        result = run(promtool, "check", "config", "--syntax-only", str(path))
        assert result.returncode == 0, f"{stack}:\n{result.stdout}{result.stderr}"


# --------------------------------------------------------------------- platform alerts, unit-tested
def platform_rules_without_annotations() -> dict[str, Any]:
    """The platform rules as deployed, minus annotations: `promtool test rules` compares annotations
    literally and several print the live value; `check rules` above validates their templates."""
    groups = platform_rule_groups(monitoring_namespace=MONITORING_NS, annotation_job=scraping.ANNOTATION_JOB,
                                  loki_statefulset=logging_stack.LOKI_STATEFULSET,
                                  alloy_daemonset=logging_stack.ALLOY_DAEMONSET)
    return {"groups": [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
                       for g in groups]}


def alert_test(promtool: str, tmp_path: Path, series: list[tuple[str, str]], alert: str, eval_time: str,
               expected: list[dict[str, str]]) -> subprocess.CompletedProcess:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(platform_rules_without_annotations()))
    test = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series],
        "alert_rule_test": [{"eval_time": eval_time, "alertname": alert,
                             "exp_alerts": [{"exp_labels": labels} for labels in expected]}],
    }]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    return run(promtool, "test", "rules", "test.yaml", cwd=tmp_path)


NS = f'namespace="{MONITORING_NS}"'
UNREACHABLE = f'up{{job="{scraping.ANNOTATION_JOB}",namespace="dev",pod="worker-0"}}'
LOKI_READY = f'kube_statefulset_status_replicas_ready{{{NS},statefulset="{logging_stack.LOKI_STATEFULSET}"}}'
LINES = f'loki_distributor_lines_received_total{{{NS},tenant="fake"}}'
LOKI_OK = f'loki_request_duration_seconds_count{{{NS},route="loki_api_v1_push",status_code="204"}}'
LOKI_5XX = f'loki_request_duration_seconds_count{{{NS},route="loki_api_v1_push",status_code="500"}}'
ALLOY_UNAVAILABLE = f'kube_daemonset_status_number_unavailable{{{NS},daemonset="{logging_stack.ALLOY_DAEMONSET}"}}'
DROPPED = f'loki_write_dropped_entries_total{{{NS},pod="alloy-x7k2p"}}'
OTHER = 'up{job="apiserver"}'

CASES = [
    # (id, series, alert, eval time, expected alert labels (empty: silent))
    ("unreachable-pod-fires", [(UNREACHABLE, "0x20")], "AnnotatedPodUnreachable", "15m",
     [{"job": scraping.ANNOTATION_JOB, "namespace": "dev", "pod": "worker-0", "severity": "warning"}]),
    ("reachable-pod-silent", [(UNREACHABLE, "1x20")], "AnnotatedPodUnreachable", "15m", []),
    ("loki-not-ready-fires", [(LOKI_READY, "0x10")], "LokiDown", "8m",
     [{"namespace": MONITORING_NS, "statefulset": "loki", "severity": "critical"}]),
    ("loki-ready-silent", [(LOKI_READY, "1x10")], "LokiDown", "8m", []),
    ("loki-not-ready-briefly-silent", [(LOKI_READY, "1x5 0x3")], "LokiDown", "8m", []),
    ("ingest-flat-fires", [(LINES, "0+100x10 1000x50")], "LokiIngestStopped", "45m", [{"severity": "critical"}]),
    ("ingest-gone-fires", [(OTHER, "1x40")], "LokiIngestStopped", "30m", [{"severity": "critical"}]),
    ("ingest-flowing-silent", [(LINES, "0+100x60")], "LokiIngestStopped", "45m", []),
    ("loki-9pct-5xx-fires", [(LOKI_OK, "0+100x30"), (LOKI_5XX, "0+10x30")], "LokiRequestErrors", "20m",
     [{"severity": "warning"}]),
    ("loki-1pct-5xx-silent", [(LOKI_OK, "0+100x30"), (LOKI_5XX, "0+1x30")], "LokiRequestErrors", "20m", []),
    ("alloy-unavailable-fires", [(ALLOY_UNAVAILABLE, "1x30")], "AlloyUnavailable", "20m",
     [{"namespace": MONITORING_NS, "daemonset": "alloy", "severity": "warning"}]),
    ("alloy-rollout-blip-silent", [(ALLOY_UNAVAILABLE, "0x10 1x5 0x15")], "AlloyUnavailable", "20m", []),
    ("alloy-dropping-fires", [(DROPPED, "0+5x30")], "AlloyDroppingLogs", "20m",
     [{"pod": "alloy-x7k2p", "severity": "warning"}]),
    ("alloy-not-dropping-silent", [(DROPPED, "0x30")], "AlloyDroppingLogs", "20m", []),
]


@pytest.mark.parametrize(("series", "alert", "eval_time", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_platform_alert_fires_when_it_should_and_stays_silent_otherwise(
        promtool, tmp_path, series, alert, eval_time, expected) -> None:
    result = alert_test(promtool, tmp_path, series, alert, eval_time, expected)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_platform_alert_has_a_firing_case() -> None:
    """An alert nobody proved can fire is an alert that may never fire."""
    alerts = {r["alert"] for g in platform_rules_without_annotations()["groups"] for r in g["rules"]}
    assert alerts == {c[2] for c in CASES if c[4]}
    assert alerts == {c[2] for c in CASES if not c[4]}
