"""The collector's SLOs: config validation, and the burn-rate alerts generated from them behaving as
the SRE Workbook says (`promtool test rules` on synthetic series): a fast burn pages, a slow burn
tickets, a brief blip stays silent, probe failures do not count.

The rules are those of `collector_rule_groups` with an explicit SLO config (99.5% availability, 99%
of requests within 250 ms, 30 days), without annotations (`test rules` compares them literally; the
rule checks in tests/test_collector_rules.py parse their templates).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from collector import metrics as collector_metrics
from event_platform import config
from event_platform.alerts.collector_rules import collector_rule_groups
from event_platform.alerts.slo import BURN_WINDOWS, le_matcher
from harness import stack_config, system_tool

NS = "production"
SLO = config.CollectorSloConfig(availability=config.SloConfig(objective=0.995, window="30d"),
                                latency=config.LatencySloConfig(objective=0.99, threshold=0.25, window="30d"))
OK = f'collector_requests_total{{namespace="{NS}",route="/events",method="POST",status="201"}}'
FAIL = f'collector_requests_total{{namespace="{NS}",route="/events",method="POST",status="503"}}'
PROBE_FAIL = f'collector_requests_total{{namespace="{NS}",route="/readyz",method="GET",status="503"}}'
HISTORY = 12 * 60
"""Minutes of steady, error-free traffic before a test's event. The blip stays silent with more than
4h of it (below, the blip alone is 1x the budget over all there is of the 3d window); 12h keeps the
runs short (promtool evaluates every rule at every step)."""


@pytest.fixture(scope="module")
def promtool() -> str:
    return system_tool("promtool", "prometheus", "check alert rules")


def counter(*phases: tuple[int, int]) -> str:
    """promtool series values of a counter growing `per_minute` for `minutes`, phase after phase."""
    parts, value = [], 0
    for per_minute, minutes in phases:
        parts.append(f"{value}+{per_minute}x{minutes}")
        value += per_minute * (minutes + 1)
    return " ".join(parts)


def burn_alerts(severity_windows: list[tuple[str, str, str]], slo: str) -> list[dict]:
    return [{"exp_labels": {"namespace": NS, "service": "collector", "slo": slo, "app": "collector",
                            "severity": severity, "long": long, "short": short}}
            for severity, long, short in severity_windows]


def run_alert_test(promtool: str, tmp_path: Path, series: list[tuple[str, str]], alert: str,
                   expected: dict[str, list[dict]], every: str = "5m") -> subprocess.CompletedProcess:
    """promtool evaluates the rules `every` (5m keeps day-long cases fast; 1m where a 5m step
    could step over a short spike)."""
    groups = [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
              for g in collector_rule_groups(NS, slo=SLO)]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    test = {"rule_files": ["rules.yaml"], "evaluation_interval": every, "tests": [{
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series],
        "alert_rule_test": [{"eval_time": t, "alertname": alert, "exp_alerts": alerts}
                            for t, alerts in expected.items()],
    }]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    return subprocess.run([promtool, "test", "rules", "test.yaml"], check=False, cwd=tmp_path, capture_output=True,
                          text=True, timeout=240)


def minutes(m: int) -> str:
    return f"{m}m"


PAGE_FAST = ("critical", "1h", "5m")
PAGE_SLOW = ("critical", "6h", "30m")
TICKET_DAY = ("warning", "1d", "2h")
TICKET_3D = ("warning", "3d", "6h")


def test_a_fast_burn_pages_within_minutes_and_a_sustained_one_adds_the_six_hour_page(promtool, tmp_path) -> None:
    """Half the requests fail: 100x the budget rate. Without the 1h/5m page an outage waits for a
    human to notice it."""
    series = [(OK, counter((100, HISTORY), (50, 60))), (FAIL, counter((0, HISTORY), (50, 60)))]
    start = HISTORY
    result = run_alert_test(promtool, tmp_path, series, "CollectorAvailabilityBudgetBurn", {
        minutes(start - 5): [],
        minutes(start + 20): burn_alerts([PAGE_FAST], "availability"),
        minutes(start + 50): burn_alerts([PAGE_FAST, PAGE_SLOW], "availability"),
    })
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_slow_burn_opens_a_ticket_and_never_pages(promtool, tmp_path) -> None:
    """2% of requests fail for a day: 4x the budget rate, the budget gone in a week. Nobody must be
    woken for it, and nobody may miss it either."""
    series = [(OK, counter((100, HISTORY), (98, 26 * 60))), (FAIL, counter((0, HISTORY), (2, 26 * 60)))]
    start = HISTORY
    result = run_alert_test(promtool, tmp_path, series, "CollectorAvailabilityBudgetBurn", {
        minutes(start + 6 * 60): [],  # spending, but not yet a day's worth
        minutes(start + 26 * 60): burn_alerts([TICKET_DAY, TICKET_3D], "availability"),
    })
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_three_minute_blip_of_total_failure_stays_silent(promtool, tmp_path) -> None:
    """Every request fails for 3 minutes (1.4% of the month's budget): the short windows see it, the
    long ones do not, so nothing fires, before, during or hours after."""
    series = [(OK, counter((100, HISTORY), (0, 3), (100, 6 * 60))),
              (FAIL, counter((0, HISTORY), (100, 3), (0, 6 * 60)))]
    start = HISTORY
    result = run_alert_test(promtool, tmp_path, series, "CollectorAvailabilityBudgetBurn", {
        minutes(start + t): [] for t in (3, 5, 8, 15, 35, 65, 4 * 60, 6 * 60)}, every="1m")
    assert result.returncode == 0, result.stdout + result.stderr


def test_failing_probes_spend_no_error_budget(promtool, tmp_path) -> None:
    """A draining pod answers 503 on /readyz by design; counted, it would page on every deploy."""
    series = [(OK, counter((100, HISTORY + 60))), (PROBE_FAIL, counter((0, HISTORY), (100, 60)))]
    result = run_alert_test(promtool, tmp_path, series, "CollectorAvailabilityBudgetBurn",
                            {minutes(HISTORY + 50): []})
    assert result.returncode == 0, result.stdout + result.stderr


def latency_bucket(le: str) -> str:
    return f'collector_request_duration_seconds_bucket{{namespace="{NS}",route="/events",method="POST",le="{le}"}}'


LATENCY_COUNT = f'collector_request_duration_seconds_count{{namespace="{NS}",route="/events",method="POST"}}'


@pytest.mark.parametrize(("fast_per_minute", "expected"), [(40, [PAGE_FAST]), (100, [])],
                         ids=["60pct-slow-pages", "all-fast-silent"])
def test_slow_requests_burn_the_latency_budget(promtool, tmp_path, fast_per_minute, expected) -> None:
    """The latency SLI counts requests in the `le=0.25` bucket as good, everything above as bad."""
    series = [(latency_bucket("0.25"), counter((100, HISTORY), (fast_per_minute, 60))),
              (latency_bucket("+Inf"), counter((100, HISTORY + 61))),
              (LATENCY_COUNT, counter((100, HISTORY + 61)))]
    result = run_alert_test(promtool, tmp_path, series, "CollectorLatencyBudgetBurn",
                            {minutes(HISTORY + 30): burn_alerts(expected, "latency")})
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_burn_rate_alert_has_the_workbooks_windows_and_factors() -> None:
    """The table in docs/observability.md and alerts/slo.py: changing one changes both."""
    windows = {(w.severity, w.long, w.short, w.factor) for w in BURN_WINDOWS}
    assert windows == {("critical", "1h", "5m", 14.4), ("critical", "6h", "30m", 6),
                       ("warning", "1d", "2h", 3), ("warning", "3d", "6h", 1)}
    (_, alerts) = collector_rule_groups(NS, slo=SLO)
    burn = [r for r in alerts["rules"] if r["alert"].endswith("BudgetBurn")]
    assert len(burn) == 2 * len(BURN_WINDOWS)
    # 14.4 x (1 - 0.995): the page threshold is written out, not left to a template
    assert "> 0.072\n" in burn[0]["expr"]


def test_the_symptom_alerts_an_slo_cannot_express_are_kept() -> None:
    """No target up, ingest stopped and restarts produce no failed request for an SLI to count."""
    (_, alerts) = collector_rule_groups(NS, slo=SLO)
    names = {r["alert"] for r in alerts["rules"]}
    assert {"CollectorNoTargetsUp", "CollectorIngestStopped", "CollectorRestarting"} <= names
    assert not {"CollectorHighErrorRatio", "CollectorHighLatencyP99"} & names


def test_each_environment_gets_the_slos_of_its_stack_file(recording) -> None:
    """The objectives in Pulumi.<stack>.yaml are the ones the deployed rules compare against."""
    cfg = stack_config(recording.stack)
    for env, env_cfg in cfg.collector.environments.items():
        rule = recording.object("PrometheusRule", "collector", env)
        records = {(r["record"], r["labels"]["slo"]): r["expr"] for g in rule.plain["spec"]["groups"]
                   for r in g["rules"] if "record" in r}
        assert records[("slo:objective:ratio", "availability")] == f"vector({env_cfg.slo.availability.objective!r})"
        assert records[("slo:objective:ratio", "latency")] == f"vector({env_cfg.slo.latency.objective!r})"
        assert ("slo:sli_error:ratio_rate" + env_cfg.slo.availability.window, "availability") in records
        threshold = le_matcher(env_cfg.slo.latency.threshold)
        assert threshold in records[("slo:sli_error:ratio_rate5m", "latency")]


def test_the_latency_thresholds_allowed_are_the_collectors_histogram_buckets() -> None:
    """A threshold between two buckets would match no `le` series: the SLI would be empty."""
    assert config.COLLECTOR_LATENCY_BUCKETS == collector_metrics._LATENCY_BUCKETS


@pytest.mark.parametrize(("slo", "key", "expected"), [
    ({"availability": {"objective": 0.9}}, "availability.objective", "above 0.9306 and below 1"),
    ({"availability": {"objective": 1}}, "availability.objective", "above 0.9306 and below 1"),
    ({"latency": {"objective": 0.99, "threshold": 0.3}}, "latency.threshold", "latency buckets"),
    ({"latency": {"objective": 0.99, "window": "2d"}}, "latency.window", "from 7d to 90d"),
    ({"latency": {"objective": 0.99, "window": "4w"}}, "latency.window", "from 7d to 90d"),
], ids=["objective-too-low", "objective-one", "threshold-not-a-bucket", "window-too-short", "window-in-weeks"])
def test_a_bad_slo_is_refused_naming_the_key_the_value_and_what_is_expected(slo, key, expected) -> None:
    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "Pulumi.dev.yaml").read_text())
    raw["config"]["event-platform:collector"]["environments"]["dev"]["slo"] = slo
    with pytest.raises(config.ConfigError) as err:
        config.from_mapping("dev", raw["config"], "Pulumi.dev.yaml")
    message = str(err.value)
    (line,) = [line for line in message.splitlines() if f"slo.{key}" in line]
    value = slo[key.split(".")[0]][key.split(".")[1]]
    assert f"got {value!r}" in line and expected in line, message
