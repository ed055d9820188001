"""Multi-window, multi-burn-rate SLO alerts (Google SRE Workbook, "Alerting on SLOs", method 6).

For each SLO the recording rules Sloth and Pyrra emit: the SLI's error ratio over every window the
alerts read (`slo:sli_error:ratio_rate<w>`), over the SLO's whole window, and the objective, budget,
burn rates and budget remaining (`slo:*`) the dashboards show. Then one alert per window pair: it
fires when the error ratio exceeds `factor x (1 - objective)` over both the long window (the budget
is really being spent) and the short one (it still is, so the alert resolves soon after a fix).

| severity | long / short | factor | budget of a 30d window spent when it fires |
|---|---|---|---|
| critical (page)   | 1h / 5m  | 14.4 | 2% in 1 hour  |
| critical (page)   | 6h / 30m | 6    | 5% in 6 hours |
| warning (ticket)  | 1d / 2h  | 3    | 10% in 1 day  |
| warning (ticket)  | 3d / 6h  | 1    | 10% in 3 days |

The factors are the workbook's for a 30-day window; with a shorter window the same factor spends a
larger share of its budget (14.4x for 1h is 8.6% of a 7-day budget), which is the stricter side.
Page and ticket of one SLO share the alert name, so Alertmanager's inhibit rule (same `alertname`
and `namespace`) mutes the ticket while the page fires (the pattern of kube-prometheus's
`KubeAPIErrorBudgetBurn`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from event_platform.config.slo import CollectorSloConfig, LatencySloConfig, SloConfig


@dataclass(frozen=True)
class BurnWindow:
    long: str
    short: str
    factor: float
    severity: str
    pending: str
    """`for:` of the alert: the short window already filters blips; this only rides out one bad
    evaluation (page) or waits for the ticket to be worth opening."""


BURN_WINDOWS = (
    BurnWindow("1h", "5m", 14.4, "critical", "2m"),
    BurnWindow("6h", "30m", 6, "critical", "15m"),
    BurnWindow("1d", "2h", 3, "warning", "1h"),
    BurnWindow("3d", "6h", 1, "warning", "3h"),
)
RATE_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
"""Every window an alert reads, recorded once each (the alerts then read cheap series)."""


def le_matcher(threshold: float) -> str:
    """The `le` matcher of a bucket bound. The collector writes `1.0`; Prometheus 3 normalises `le`
    to `1` on ingestion (Prometheus 3.0 migration guide, "le and quantile label values"), while 2.x
    keeps `1.0`: an integral bound matches both."""
    if float(threshold).is_integer():
        return f'le=~"{int(threshold)}(\\\\.0)?"'
    return f'le="{threshold!r}"'


@dataclass(frozen=True)
class Slo:
    """One SLO of one service in one namespace, with the PromQL of its error ratio."""

    name: str
    """`availability` or `latency`: the `slo` label of its series."""
    alert: str
    config: SloConfig
    namespace: str
    service: str
    traffic: str
    """Label matchers of the requests the SLO counts (user traffic of this namespace)."""

    @property
    def labels(self) -> dict[str, str]:
        return {"namespace": self.namespace, "service": self.service, "slo": self.name}

    @property
    def selector(self) -> str:
        return ",".join(f'{k}="{v}"' for k, v in self.labels.items())

    @property
    def budget(self) -> float:
        return round(1 - self.config.objective, 10)

    def error_ratio(self, window: str) -> str:
        if isinstance(self.config, LatencySloConfig):
            good = (f"sum(rate(collector_request_duration_seconds_bucket{{{self.traffic},"
                    f"{le_matcher(self.config.threshold)}}}[{window}]))")
            total = f"sum(rate(collector_request_duration_seconds_count{{{self.traffic}}}[{window}]))"
            return f"1 - {good}\n  / {total}"
        # `or vector(0)`: no 5xx series at all means no errors, not no data
        bad = f'(sum(rate(collector_requests_total{{{self.traffic},status=~"5.."}}[{window}])) or vector(0))'
        return f"{bad}\n  / sum(rate(collector_requests_total{{{self.traffic}}}[{window}]))"


def collector_slos(namespace: str, service: str, traffic: str, slo: CollectorSloConfig) -> tuple[Slo, ...]:
    return (Slo("availability", "CollectorAvailabilityBudgetBurn", slo.availability, namespace, service, traffic),
            Slo("latency", "CollectorLatencyBudgetBurn", slo.latency, namespace, service, traffic))


def recording_rules(slo: Slo) -> list[dict[str, Any]]:
    """The SLI per window, the SLI over the SLO window, and the objective/budget series."""
    sel, labels = slo.selector, slo.labels
    period = slo.config.window

    def record(name: str, expr: str) -> dict[str, Any]:
        return {"record": name, "expr": expr, "labels": dict(labels)}

    rules = [record(f"slo:sli_error:ratio_rate{w}", slo.error_ratio(w)) for w in RATE_WINDOWS]
    # The whole window from the 5m series (as Sloth does): a 30d rate over raw counters is costly.
    rules += [
        record(f"slo:sli_error:ratio_rate{period}",
               f"sum_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])\n"
               f"  / count_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])"),
        record("slo:objective:ratio", f"vector({slo.config.objective!r})"),
        record("slo:error_budget:ratio", f"vector({slo.budget!r})"),
        record("slo:time_period:days", f"vector({slo.config.window_days})"),
        record("slo:current_burn_rate:ratio", f"slo:sli_error:ratio_rate5m{{{sel}}} / {slo.budget!r}"),
        record("slo:period_burn_rate:ratio", f"slo:sli_error:ratio_rate{period}{{{sel}}} / {slo.budget!r}"),
        record("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{{{sel}}}"),
    ]
    return rules


def burn_rate_alerts(slo: Slo) -> list[dict[str, Any]]:
    """One alert per window pair; severity critical pages, warning tickets."""
    what = "requests fail (5xx)" if slo.name == "availability" else \
        f"requests take longer than {slo.config.threshold if isinstance(slo.config, LatencySloConfig) else '?'}s"
    alerts = []
    for w in BURN_WINDOWS:
        limit = round(w.factor * slo.budget, 10)
        alerts.append({
            "alert": slo.alert,
            "expr": (f"slo:sli_error:ratio_rate{w.long}{{{slo.selector}}} > {limit!r}\n"
                     f"and\nslo:sli_error:ratio_rate{w.short}{{{slo.selector}}} > {limit!r}"),
            "for": w.pending,
            "labels": {"severity": w.severity, "app": slo.service, "long": w.long, "short": w.short},
            "annotations": {
                "summary": f"The collector's {slo.name} error budget burns at {w.factor}x in {slo.namespace}",
                "description": (f"{{{{ $value | humanizePercentage }}}} of {slo.namespace}'s user {what} over "
                                f"{w.short}, and over {w.long} too: above {w.factor}x the "
                                f"{slo.budget:.2%} budget of the {slo.config.objective:.2%} objective "
                                f"over {slo.config.window}."),
            },
        })
    return alerts
