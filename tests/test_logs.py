"""Logs, the other half: every line the real collector writes is a JSON object with the fields the
Loki dashboards select on, and each LogQL query of the rendered dashboards, applied to that real
output as far as it can be without Loki, selects the collector's lines.

What is applied here (a small evaluator of the LogQL subset the dashboards use):
* the stream selector, against the labels Alloy gives the collector's stream (the label names read
  from the rendered Alloy configuration, the values of the dev stack's collector pod);
* line filters (`|=`, `!=`, `|~`, `!~`) on the raw line;
* `| json` and label filters (`=`, `!=`, `=~`, `!~`, `>`, `>=`, `<`, `<=`) on the parsed fields.
What stays unproven (docs/observability.md): that Loki parses the queries (no LogQL parser here),
that Alloy ships the lines with those labels, range aggregations (`rate`, `count_over_time`) and
`$__auto`, and Loki's own rules for nested JSON fields and number conversion.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from event_platform.components import logging_stack
from harness import stack_config
from live import Collector, drive_load, rendered_documents

STACK = "dev"
NAMESPACE = "dev"
REQUIRED_FIELDS = ("time", "level", "logger", "message")
"""What every line carries (collector.logs.JsonFormatter); the dashboards filter on `level`, `logger`."""
VARIABLES = {"namespace": NAMESPACE, "pod": ".+", "container": ".+", "search": "", "__auto": "1m"}
"""Grafana's values: `All` on the logs dashboard is `.+` (its variables' allValue); empty search."""


# ------------------------------------------------------------------------------- LogQL, a subset
@dataclass(frozen=True)
class Stage:
    kind: str  # "line" | "json" | "label"
    op: str = ""
    name: str = ""
    value: str = ""


@dataclass(frozen=True)
class LogQuery:
    matchers: tuple[tuple[str, str, str], ...]
    stages: tuple[Stage, ...]

    @property
    def json_fields(self) -> set[str]:
        return {s.name for s in self.stages if s.kind == "label"}


STRING = r'"((?:[^"\\]|\\.)*)"'
MATCHER = re.compile(rf"\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*{STRING}\s*,?")
LINE_FILTER = re.compile(rf"\s*(\|=|!=|\|~|!~)\s*{STRING}")
JSON = re.compile(r"\s*\|\s*json\b")
LABEL_FILTER = re.compile(rf"\s*\|\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|==|>=|<=|=|>|<)\s*(?:{STRING}|([0-9.]+))")


def unquote(text: str) -> str:
    return json.loads(f'"{text}"')


def log_query(expr: str) -> LogQuery:
    """The log query of `expr` (the inside of a range aggregation, or `expr` itself), parsed; an
    unsupported construct fails the test, so nothing is silently left out."""
    inner = re.search(r"(\{[^}]*\}[^\[]*?)\s*\[[^\]]+\]", expr)
    text = (inner.group(1) if inner else expr).strip()
    selector = re.match(r"\{([^}]*)\}", text)
    assert selector, f"no stream selector in {expr!r}"
    matchers = tuple((m.group(1), m.group(2), unquote(m.group(3))) for m in MATCHER.finditer(selector.group(1)))
    rest, stages = text[selector.end():], []
    while rest.strip():
        if m := LINE_FILTER.match(rest):
            stages.append(Stage("line", m.group(1), value=unquote(m.group(2))))
        elif m := JSON.match(rest):
            stages.append(Stage("json"))
        elif m := LABEL_FILTER.match(rest):
            value = unquote(m.group(3)) if m.group(3) is not None else m.group(4)
            stages.append(Stage("label", m.group(2), m.group(1), value))
        else:
            raise AssertionError(f"LogQL this test cannot apply: {rest!r} in {expr!r}")
        rest = rest[m.end():]
    return LogQuery(matchers, tuple(stages))


def substitute(expr: str) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: VARIABLES.get(m.group(1), m.group(0)), expr)


def stream_selected(query: LogQuery, labels: dict[str, str]) -> bool:
    """Loki's label matchers: regexes are fully anchored; a missing label is the empty string."""
    for name, op, value in query.matchers:
        actual = labels.get(name, "")
        ok = {"=": actual == value, "!=": actual != value,
              "=~": re.fullmatch(value, actual) is not None, "!~": re.fullmatch(value, actual) is None}[op]
        if not ok:
            return False
    return True


def compare(op: str, actual: Any, value: str) -> bool:
    if op in (">", ">=", "<", "<="):
        try:
            a, v = float(actual), float(value)
        except (TypeError, ValueError):
            return False
        return {">": a > v, ">=": a >= v, "<": a < v, "<=": a <= v}[op]
    text = "" if actual is None else str(actual)
    return {"=": text == value, "==": text == value, "!=": text != value,
            "=~": re.fullmatch(value, text) is not None, "!~": re.fullmatch(value, text) is None}[op]


def line_selected(query: LogQuery, line: str) -> bool:
    fields: dict[str, Any] = {}
    for stage in query.stages:
        if stage.kind == "line":
            found = stage.value in line if stage.op in ("|=", "!=") else re.search(stage.value, line) is not None
            if found != (stage.op in ("|=", "|~")):
                return False
        elif stage.kind == "json":
            fields = json.loads(line)
        elif not compare(stage.op, fields.get(stage.name), stage.value):
            return False
    return True


# ------------------------------------------------------------------------------------ fixtures
def loki_queries(rendered: Path) -> Iterator[tuple[str, str]]:
    """(where, LogQL) of every Loki target of every rendered dashboard."""
    for doc in rendered_documents(rendered):
        if doc.get("kind") != "ConfigMap" or (doc["metadata"].get("labels") or {}).get("grafana_dashboard") != "1":
            continue
        for text in doc["data"].values():
            board = json.loads(text)
            for p in board.get("panels", []):
                for t in p.get("targets", []):
                    if (t.get("datasource") or {}).get("type") == "loki":
                        yield f"{board['uid']} panel {p['title']!r}", t["expr"]


def collector_stream_labels(rendered: Path) -> dict[str, str]:
    """The labels Alloy gives the collector pod's stream: names from the rendered Alloy config's
    relabel rules, values from the rendered collector Deployment."""
    docs = list(rendered_documents(rendered))
    (alloy,) = [d["release"] for d in docs if d.get("type") == "kubernetes:helm.sh/v3:Release"
                and d["release"]["name"] == logging_stack.ALLOY_RELEASE]
    river = alloy["values"]["alloy"]["configMap"]["content"]
    names = dict(re.findall(r'source_labels = \["(__meta_kubernetes_\w+)"\]\s*target_label\s*=\s*"(\w+)"', river))
    (deployment,) = [d for d in docs if d.get("kind") == "Deployment" and d["metadata"]["name"] == "collector"
                     and d["metadata"]["namespace"] == NAMESPACE]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    meta = {"__meta_kubernetes_namespace": NAMESPACE, "__meta_kubernetes_pod_name": "collector-6b7d9c-x2k4p",
            "__meta_kubernetes_pod_container_name": container["name"], "__meta_kubernetes_pod_node_name": "node-1"}
    labels = {target: meta[source] for source, target in names.items()}
    assert {"namespace", "pod", "container"} <= set(labels), river
    return labels


@pytest.fixture(scope="module")
def collector_output(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Every line the collector wrote while starting, serving a short load and shutting down."""
    level = stack_config(STACK).collector.log_level
    collector = Collector(tmp_path_factory.mktemp("collector-logs"), "collector", log_level=level)
    try:
        collector.wait_ready()
        drive_load([collector], 1.5)
    finally:
        collector.stop()
    lines = [line for line in collector.output().splitlines() if line.strip()]
    assert lines, "the collector wrote nothing"
    return lines


# -------------------------------------------------------------------------------------- tests
def test_every_line_the_collector_writes_is_a_json_object_with_time_level_logger_and_message(
        collector_output) -> None:
    """A line that is not JSON falls out of every `| json` query: in Loki it exists, on the
    dashboards it does not."""
    bad = []
    for line in collector_output:
        try:
            document = json.loads(line)
        except ValueError:
            bad.append(f"not JSON: {line[:200]}")
            continue
        if not isinstance(document, dict) or not all(document.get(f) for f in REQUIRED_FIELDS):
            bad.append(f"missing one of {REQUIRED_FIELDS}: {line[:200]}")
    assert not bad, "\n".join(bad[:20])
    loggers = {json.loads(line)["logger"] for line in collector_output}
    assert {"collector", "collector.access"} <= loggers, loggers


def test_every_dashboard_log_query_selects_the_collectors_lines(rendered, collector_output) -> None:
    """Each LogQL query's stream selector matches the collector's stream, every JSON field it filters
    on is one the collector writes, and the queries that show all lines (or all requests) do select
    the collector's real output."""
    labels = collector_stream_labels(rendered[STACK])
    documents = [json.loads(line) for line in collector_output]
    written_fields = {key for d in documents for key in d}
    queries = list(loki_queries(rendered[STACK]))
    assert len({where.split()[0] for where, _ in queries}) >= 2, queries  # the logs and the collector boards
    problems, selected = [], {}
    for where, expr in queries:
        query = log_query(substitute(expr))
        if not stream_selected(query, labels):
            problems.append(f"{where}: stream selector does not select {labels}")
        if missing := query.json_fields - written_fields:
            problems.append(f"{where}: filters on {sorted(missing)}, which no collector line has")
        selected[where] = sum(line_selected(query, line) for line in collector_output)
    assert not problems, "\n".join(problems)
    assert selected["platform-logs panel 'Lines'"] == len(collector_output)
    requests = sum(d["logger"] == "collector.access" for d in documents)
    assert requests and selected[f"event-collector-{NAMESPACE} panel 'Failed requests (5xx), from the access log'"] == sum(
        d["logger"] == "collector.access" and d["status"] >= 500 for d in documents)


def test_the_access_log_queries_select_by_status_and_duration_on_real_lines(collector_output) -> None:
    """The evaluator is not vacuous: a real access line selected by the 5xx query once its status is
    503, and by the slow-request query once it took 300 ms, and by neither as it was."""
    from event_platform.dashboards.collector import collector_dashboard

    board = collector_dashboard()
    exprs = {p["title"]: p["targets"][0]["expr"] for p in board["panels"]}
    failed = log_query(substitute(exprs["Failed requests (5xx), from the access log"]))
    slow = log_query(substitute(exprs["Requests over 250 ms per second, by path (access log)"]))
    access = next(json.loads(line) for line in collector_output
                  if json.loads(line)["logger"] == "collector.access" and json.loads(line)["status"] < 500
                  and json.loads(line)["duration_ms"] < 250)
    as_written = json.dumps(access)
    assert not line_selected(failed, as_written) and not line_selected(slow, as_written)
    assert line_selected(failed, json.dumps({**access, "status": 503}))
    assert line_selected(slow, json.dumps({**access, "duration_ms": 300.0}))
    other_logger = json.dumps({**access, "logger": "collector.api", "status": 503})
    assert not line_selected(failed, other_logger)
