"""Service level objectives (`collector.environments.<env>.slo`): what alerts/slo.py turns into
burn-rate alerts."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from event_platform.config.base import (
    Model,
)

COLLECTOR_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of `collector_request_duration_seconds` (apps/collector/src/collector/metrics.py;
tests/test_slo.py proves they agree): a latency SLO's threshold must be one of them, because the SLI
counts the requests in the bucket `le=<threshold>`."""


FASTEST_BURN_RATE = 14.4
"""The page's fast burn rate (alerts/slo.py): above objective 1 - 1/14.4 a 14.4x burn is possible."""


def _slo_objective(value: float) -> float:
    floor = 1 - 1 / FASTEST_BURN_RATE
    if not floor < value < 1:
        raise ValueError(f"a ratio above {floor:.4f} and below 1 (at or below {floor:.4f} a {FASTEST_BURN_RATE}x "
                         "burn rate would need more than 100% errors, so the page could never fire)")
    return value


def _slo_window(value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*d", value) or not 7 <= int(value[:-1]) <= 90:
        raise ValueError("whole days from 7d to 90d, such as 30d (the alerts look back up to 3d)")
    return value


def _latency_threshold(value: float) -> float:
    if value not in COLLECTOR_LATENCY_BUCKETS:
        raise ValueError(f"one of the collector's latency buckets {list(COLLECTOR_LATENCY_BUCKETS)}")
    return value


class SloConfig(Model):
    """A service level objective: the share of good user requests over a rolling window."""

    objective: Annotated[float, AfterValidator(_slo_objective)]
    """Target share of good requests, e.g. 0.995. Required."""
    window: Annotated[str, AfterValidator(_slo_window)] = "30d"
    """Rolling window (whole days, 7d to 90d) the error budget is counted over. Omitted: 30d."""

    @property
    def window_days(self) -> int:
        return int(self.window[:-1])


class LatencySloConfig(SloConfig):
    """A latency objective: the share of user requests answered within `threshold` seconds."""

    threshold: Annotated[float, AfterValidator(_latency_threshold)] = 0.25
    """Seconds a good request takes at most; one of the collector's histogram bucket bounds
    (COLLECTOR_LATENCY_BUCKETS). Omitted: 0.25."""


class CollectorSloConfig(Model):
    """The collector's SLOs in one environment; alerts/slo.py turns them into burn-rate alerts."""

    availability: SloConfig = SloConfig(objective=0.995)
    """Share of user requests not answered 5xx. Omitted: 99.5% over 30d."""
    latency: LatencySloConfig = LatencySloConfig(objective=0.99)
    """Share of user requests answered within the threshold. Omitted: 99% within 250 ms over 30d."""

