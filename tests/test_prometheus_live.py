"""The alert rules and dashboards, as the dev stack renders them, on a real Prometheus scraping the
real collector under load.

Debian's `prometheus` server (the package that also ships promtool) runs on its own port with its own
data directory, scraping two collector processes every second: a stable one and a canary, with the
labels the Prometheus Operator gives a ServiceMonitor's targets (namespace, service, pod, container,
job, endpoint; prometheus-operator pkg/prometheus/promcfg.go, generateServiceMonitorConfig) plus the
collector ServiceMonitor's own relabelings, copied from the rendered object (`version`, `track`).
It also scrapes itself, as kube-prometheus-stack's Prometheus does. Rule groups are read from the
rendered PrometheusRule objects and dashboards from the rendered ConfigMaps; nothing is a second copy.

Then: every rule group is healthy, every recording rule has series, every dashboard query on the
collector's metrics returns data, and no query at all is a PromQL error. Queries on cluster exporters
(kube-state-metrics, cAdvisor, node-exporter, Loki's and Alloy's metrics) cannot have data here:
they are listed, parsed by this Prometheus (a syntax error is an HTTP 400) and counted. The counts
are printed in the terminal summary.

When the server or the collector cannot start, the tests fail; they never skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from live import Collector, drive_load, free_port, rendered_documents, wait_for

STACK = "dev"
NAMESPACE = "dev"
VERSIONS = {"stable": "1.4.0", "canary": "1.5.0-rc1"}
EXPORTER_METRICS = re.compile(r"\b(kube_\w+|container_\w+|node_\w+|loki_\w+|alloy_\w+)")
"""Metric families only cluster exporters produce: kube-state-metrics, cAdvisor, node-exporter, Loki
and Alloy (its `loki_write_*` too)."""
GRAFANA_VARIABLES = {"namespace": NAMESPACE, "pod": ".+", "container": ".+", "search": "",
                     "__rate_interval": "1m", "__interval": "15s", "__auto": "1m", "__range": "5m"}
SCRAPE_SECONDS = 1
LOAD_SECONDS = 8


@dataclass
class Counts:
    rule_groups_healthy: int = 0
    recording_rules_with_series: int = 0
    alerting_rules_healthy: int = 0
    collector_queries_with_data: int = 0
    other_queries_parsed: int = 0
    exporter_queries_parsed: int = 0
    exporter_queries: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"rule groups healthy: {self.rule_groups_healthy}",
                f"recording rules with series: {self.recording_rules_with_series}",
                f"alerting rules evaluated healthy: {self.alerting_rules_healthy}",
                f"collector dashboard queries with data: {self.collector_queries_with_data}",
                f"other dashboard queries parsed and run (Prometheus's own metrics): {self.other_queries_parsed}",
                f"exporter queries syntax-checked (no exporter here): {self.exporter_queries_parsed}",
                *(f"  exporter query: {q}" for q in self.exporter_queries)]


class Summary:
    """Prints the counts at the end of the run (`make test` output)."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("real Prometheus")
        for line in self.counts.lines():
            terminalreporter.write_line(line)


@dataclass
class Live:
    url: str
    rule_groups: list[dict[str, Any]]
    dashboards: dict[str, dict[str, Any]]
    counts: Counts

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; a PromQL error fails the test with the expression."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{expr}\n-> {body}"
        return body["data"]["result"]


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if not path:
        pytest.fail("the prometheus server is not installed: `apt-get install --no-install-recommends "
                    "prometheus` (Debian; .ci/run installs it)")
    return path


def operator_relabelings(service: str) -> list[dict[str, Any]]:
    """What the operator puts before a ServiceMonitor's own relabelings for an endpoint backed by a
    pod (promcfg.go): the target's labels from discovery's meta labels."""
    return [
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job"},
        {"target_label": "endpoint", "replacement": "http"},
    ]


def prometheus_relabeling(monitor_relabeling: dict[str, Any]) -> dict[str, Any]:
    """A monitor's relabeling (camelCase CRD fields) as Prometheus configuration."""
    names = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return {names.get(k, k): (v.lower() if k == "action" else v) for k, v in monitor_relabeling.items()}


def rendered_objects(rendered: dict[str, Path]) -> tuple[list[dict], list[dict], dict[str, dict]]:
    """(PrometheusRules, ServiceMonitors, dashboards by uid) of the rendered stack."""
    rules, monitors, dashboards = [], [], {}
    for doc in rendered_documents(rendered[STACK]):
        kind = doc.get("kind")
        if kind == "PrometheusRule":
            rules.append(doc)
        elif kind == "ServiceMonitor":
            monitors.append(doc)
        elif kind == "ConfigMap" and (doc["metadata"].get("labels") or {}).get("grafana_dashboard") == "1":
            for text in doc["data"].values():
                board = json.loads(text)
                dashboards[board["uid"]] = board
    return rules, monitors, dashboards


@pytest.fixture(scope="module")
def live(rendered: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[Live]:
    binary = prometheus_binary()
    folder = tmp_path_factory.mktemp("prometheus-live")
    rules, monitors, dashboards = rendered_objects(rendered)
    (monitor,) = [m for m in monitors if m["metadata"]["name"] == "collector"
                  and m["metadata"]["namespace"] == NAMESPACE]
    (endpoint,) = monitor["spec"]["endpoints"]
    groups = [g for r in rules for g in r["spec"]["groups"]]
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))

    collectors = {track: Collector(folder, f"collector-{track}") for track in VERSIONS}
    prometheus: subprocess.Popen | None = None
    log = folder / "prometheus.log"
    try:
        for c in collectors.values():
            c.wait_ready()
        port = free_port()
        targets = [{"targets": [f"127.0.0.1:{c.port}"], "labels": {
            "__meta_kubernetes_namespace": NAMESPACE,
            "__meta_kubernetes_service_name": "collector" if track == "stable" else f"collector-{track}",
            "__meta_kubernetes_pod_name": f"collector-{track}-5d8f9-{i}",
            "__meta_kubernetes_pod_container_name": "collector",
            "__meta_kubernetes_pod_label_app_kubernetes_io_version": VERSIONS[track],
            "__meta_kubernetes_pod_label_event_platform_io_track": track,
        }} for i, (track, c) in enumerate(collectors.items())]
        config: dict[str, Any] = {
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s"},
            "rule_files": ["rules.yaml"],
            "scrape_configs": [
                {"job_name": f"serviceMonitor/{NAMESPACE}/collector/0", "metrics_path": endpoint["path"],
                 "static_configs": targets,
                 "relabel_configs": operator_relabelings("collector")
                 + [prometheus_relabeling(r) for r in endpoint.get("relabelings", [])]},
                {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]},
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        with open(log, "wb") as out:
            prometheus = subprocess.Popen(
                [binary, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
                stdout=out, stderr=subprocess.STDOUT, cwd=folder)
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/-/ready", prometheus, log, f"prometheus ({binary})")
        drive_load(list(collectors.values()), LOAD_SECONDS)
        time.sleep(3 * SCRAPE_SECONDS)  # the last scrape, then two rule evaluations after it
        counts = Counts()
        request.config.pluginmanager.register(Summary(counts), "prometheus-live-summary")
        yield Live(url, groups, dashboards, counts)
    finally:
        if prometheus is not None and prometheus.poll() is None:
            prometheus.terminate()
            prometheus.wait(timeout=30)
        for c in collectors.values():
            c.stop()


def rules_api(live: Live) -> list[dict[str, Any]]:
    body = httpx.get(f"{live.url}/api/v1/rules", timeout=10).json()
    return body["data"]["groups"]


def test_every_rendered_rule_group_loads_and_evaluates_healthy(live: Live) -> None:
    """A rule Prometheus cannot evaluate (a type error, many-to-many matching...) never fires, and
    promtool's static check cannot see it."""
    loaded = rules_api(live)
    assert {g["name"] for g in loaded} == {g["name"] for g in live.rule_groups}
    assert {f"collector.{NAMESPACE}", f"collector.{NAMESPACE}.slo"} <= {g["name"] for g in loaded}
    unhealthy = [f"{g['name']}/{r['name']}: {r.get('lastError')}" for g in loaded for r in g["rules"]
                 if r["health"] != "ok"]
    assert not unhealthy, "\n".join(unhealthy)
    live.counts.rule_groups_healthy = len(loaded)
    live.counts.alerting_rules_healthy = sum(r["type"] == "alerting" for g in loaded for r in g["rules"])


def test_every_recording_rule_produces_series(live: Live) -> None:
    """A recording rule without series leaves every alert and panel reading it silent."""
    empty, count = [], 0
    for group in live.rule_groups:
        for rule in group["rules"]:
            if "record" not in rule:
                continue
            selector = ",".join(f'{k}="{v}"' for k, v in (rule.get("labels") or {}).items())
            if not live.query(f"{rule['record']}{{{selector}}}"):
                empty.append(f"{group['name']}: {rule['record']}{{{selector}}}")
            count += 1
    assert count and not empty, "recording rules without series:\n" + "\n".join(empty)
    live.counts.recording_rules_with_series = count


def grafana_to_promql(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        return GRAFANA_VARIABLES.get(match.group(1) or match.group(2), "x")
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def prometheus_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, expr) of every Prometheus target and annotation of a dashboard."""
    out = []
    for p in board.get("panels", []):
        for t in p.get("targets", []):
            if (t.get("datasource") or p.get("datasource") or {}).get("type") == "prometheus":
                out.append((f"{board['uid']} panel {p['title']!r}", t["expr"]))
    for a in (board.get("annotations") or {}).get("list", []):
        if (a.get("datasource") or {}).get("type") == "prometheus" and a.get("expr"):
            out.append((f"{board['uid']} annotation {a['name']!r}", a["expr"]))
    return out


def test_every_dashboard_query_on_the_collectors_metrics_returns_data(live: Live) -> None:
    """An empty panel looks the same as a healthy zero: a renamed metric or label would go unnoticed
    until the day the panel is needed."""
    collector_boards = [b for uid, b in live.dashboards.items() if uid.startswith("event-collector")]
    assert collector_boards, sorted(live.dashboards)
    empty, with_data = [], 0
    for board in collector_boards:
        for where, expr in prometheus_queries(board):
            if EXPORTER_METRICS.search(expr):
                continue
            if live.query(grafana_to_promql(expr)):
                with_data += 1
            else:
                empty.append(f"{where}: {expr}")
    assert with_data and not empty, "collector queries without data:\n" + "\n".join(empty)
    live.counts.collector_queries_with_data = with_data


def test_no_dashboard_query_is_a_promql_error_and_exporter_queries_are_listed(live: Live) -> None:
    """Every Prometheus query of every dashboard runs on a real server: a syntax or type error
    answers HTTP 400 (`live.query` fails). Queries needing an exporter this test has not got are
    listed, so a reader knows what remains unproven."""
    other, exporter = 0, []
    for uid, board in sorted(live.dashboards.items()):
        for where, expr in prometheus_queries(board):
            live.query(grafana_to_promql(expr))
            if EXPORTER_METRICS.search(expr):
                exporter.append(f"{where}: {' '.join(expr.split())}")
            elif not uid.startswith("event-collector"):
                other += 1
    assert exporter, "no exporter query found: the classification is broken"
    live.counts.exporter_queries_parsed = len(exporter)
    live.counts.exporter_queries = exporter
    live.counts.other_queries_parsed = other


def test_the_dashboard_variable_offers_the_environment(live: Live) -> None:
    """`$namespace` is filled from `label_values(collector_events_total, namespace)`: an empty list
    leaves every panel of the dashboard empty."""
    (board,) = [b for uid, b in live.dashboards.items() if uid.startswith("event-collector")]
    (variable,) = [v for v in board["templating"]["list"] if v["name"] == "namespace"]
    parsed = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable["query"])
    assert parsed, variable["query"]
    metric, label = parsed.groups()
    values = httpx.get(f"{live.url}/api/v1/label/{label}/values", params={"match[]": metric}, timeout=10).json()
    assert NAMESPACE in values["data"], values


def test_latency_and_errors_split_stable_and_canary_on_one_panel(live: Live) -> None:
    """The canary is judged beside the stable version: both versions' series, labelled from the pods
    by the ServiceMonitor's relabelings, on each by-version panel; and the deploy annotation marks
    both versions (they appeared within its 2-minute look-back)."""
    (board,) = [b for uid, b in live.dashboards.items() if uid.startswith("event-collector")]
    by_version = [p for p in board["panels"] if "by version" in p["title"]]
    assert len(by_version) >= 2
    for p in by_version:
        series = live.query(grafana_to_promql(p["targets"][0]["expr"]))
        assert {(s["metric"].get("track"), s["metric"].get("version")) for s in series} \
            >= set(VERSIONS.items()), (p["title"], series)
    (deploys,) = board["annotations"]["list"]
    marked = live.query(grafana_to_promql(deploys["expr"]))
    assert {s["metric"]["version"] for s in marked} == set(VERSIONS.values())
