"""The collector's alert rules are valid PromQL and fire exactly when they should: `promtool check
rules` on them, and `promtool test rules` with synthetic series for each symptom alert, firing and
silent. The SLO burn-rate alerts have theirs in tests/test_slo.py.

Annotations are checked by `check rules` (their templates must parse); `test rules` compares
annotations literally, and several print the live value, so the unit tests run on the same rules
without annotations and assert the alert's labels and timing.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from event_platform.alerts.collector_rules import collector_rule_groups
from harness import system_tool

NS = "dev"
LABELS = {"app": "collector", "namespace": NS}


@pytest.fixture(scope="module")
def promtool() -> str:
    return system_tool("promtool", "prometheus", "check alert rules")


def write_rules(folder, with_annotations: bool = True):
    groups = collector_rule_groups(NS)
    if not with_annotations:
        groups = [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
                  for g in groups]
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": list(groups)}))
    return path


def run_case(promtool: str, tmp_path, series: list[tuple[str, str]], alert: str, eval_time: str,
             fires: bool, severity: str, series_labels: dict | None = None) -> subprocess.CompletedProcess:
    write_rules(tmp_path, with_annotations=False)
    test = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series],
        "alert_rule_test": [{"eval_time": eval_time, "alertname": alert,
                             "exp_alerts": [{"exp_labels": {**LABELS, **(series_labels or {}), "severity": severity}}]
                             if fires else []}],
    }]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    return subprocess.run([promtool, "test", "rules", "test.yaml"], check=False, cwd=tmp_path, capture_output=True, text=True)


def test_promtool_accepts_every_collector_rule(promtool: str, tmp_path) -> None:
    run = subprocess.run([promtool, "check", "rules", str(write_rules(tmp_path))], check=False,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    count = sum(len(g["rules"]) for g in collector_rule_groups(NS))
    assert f"SUCCESS: {count} rules found" in run.stdout


@pytest.mark.parametrize(("values", "fires"), [("0+1x20", True), ("3x20", False)], ids=["restarting", "stable"])
def test_restarts_fire_after_more_than_two_in_fifteen_minutes(promtool, tmp_path, values, fires) -> None:
    series = [(f'kube_pod_container_status_restarts_total{{namespace="{NS}",container="collector",pod="p"}}',
               values)]
    run = run_case(promtool, tmp_path, series, "CollectorRestarting", "16m", fires, "warning",
                   series_labels={"container": "collector", "pod": "p"})
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(("series", "fires"), [
    ([(f'up{{namespace="{NS}",service="collector",pod="a"}}', "0x20")], True),
    ([], True),  # no target at all: the ServiceMonitor finds nothing
    ([(f'up{{namespace="{NS}",service="collector",pod="a"}}', "0x20"),
      (f'up{{namespace="{NS}",service="collector",pod="b"}}', "1x20")], False),
], ids=["all-down", "no-targets", "one-up"])
def test_no_targets_up_fires_when_no_collector_answers(promtool, tmp_path, series, fires) -> None:
    run = run_case(promtool, tmp_path, series, "CollectorNoTargetsUp", "10m", fires, "critical")
    assert run.returncode == 0, run.stdout + run.stderr


EVENTS = f'collector_events_total{{namespace="{NS}",source="checkout"}}'


@pytest.mark.parametrize(("values", "fires"), [
    ("0+100x60 6000x60", True),      # steady ingest for an hour, then nothing
    ("0+100x120", False),            # steady ingest throughout
    ("0x120", False),                # never had traffic: nothing "dropped"
], ids=["dropped-to-zero", "steady", "never-used"])
def test_ingest_stopped_fires_when_events_drop_to_zero(promtool, tmp_path, values, fires) -> None:
    run = run_case(promtool, tmp_path, [(EVENTS, values)], "CollectorIngestStopped", "100m", fires, "warning")
    assert run.returncode == 0, run.stdout + run.stderr
