"""Prometheus metrics, on a registry owned by one app instance.

A registry per app (rather than the global default) lets tests build many
apps in one process; process metrics (``process_resident_memory_bytes``...)
are registered on it explicitly.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

# The `_created` companion series double the exposition size and nobody graphs them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
OTHER_SOURCE = "_other"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class Metrics:
    """Every metric the service exports. Names follow the story: ``collector_*``."""

    def __init__(self, max_sources: int = 200) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry
        self.events_total = Counter(
            "collector_events_total",
            "Events durably stored, by source (capped; extra sources count as _other).",
            ["source"],
            registry=r,
        )
        self.request_duration = Histogram(
            "collector_request_duration_seconds",
            "HTTP request latency, by method and route.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.requests_total = Counter(
            "collector_requests_total",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.errors_total = Counter(
            "collector_errors_total",
            "Requests answered with an error, by kind (validation, bad_json, too_large, unsupported_media_type, "
            "unauthorized, unavailable, overloaded, not_found, method_not_allowed, internal).",
            ["kind"],
            registry=r,
        )
        self.request_events = Histogram(
            "collector_request_events",
            "Events per accepted POST /events.",
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.commit_events = Histogram(
            "collector_commit_events",
            "Events per group commit (many POSTs share one transaction).",
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.commit_duration = Histogram(
            "collector_commit_duration_seconds",
            "Time to write and commit one group.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_failures = Counter(
            "collector_commit_failures_total",
            "Group commits that failed, by reason.",
            ["reason"],
            registry=r,
        )
        self.pending_events = Gauge(
            "collector_pending_events",
            "Events accepted for writing and not yet committed.",
            registry=r,
        )
        self.cache_fallbacks = Counter(
            "collector_cache_fallbacks_total",
            "Redis operations skipped or failed (Redis down or slow); reads went to the database instead.",
            ["operation"],
            registry=r,
        )
        self.cache_requests = Counter(
            "collector_cache_requests_total",
            "Recent-window reads by result (hit, miss).",
            ["result"],
            registry=r,
        )
        self.expired_events = Counter(
            "collector_events_expired_total",
            "Events deleted by retention.",
            registry=r,
        )
        self.retention_runs = Counter(
            "collector_retention_runs_total",
            "Retention passes, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.inflight_requests = Gauge(
            "collector_inflight_requests",
            "HTTP requests being handled.",
            registry=r,
        )
        #: Requests being handled: a plain integer on the event loop, read when /metrics is scraped
        #: (a locked gauge update twice per request costs more than the request's own counting).
        self.inflight = 0
        self.inflight_requests.set_function(lambda: self.inflight)
        self.ready = Gauge("collector_ready", "1 when /readyz answers 200.", registry=r)
        self.database_up = Gauge("collector_database_up", "1 when the last database operation succeeded.", registry=r)
        self.draining = Gauge("collector_draining", "1 after SIGTERM, while the process drains.", registry=r)
        self._max_sources = max_sources
        self._source_children: dict[str, Counter] = {}
        self._request_children: dict[tuple[str, str], Histogram] = {}
        self._status_children: dict[tuple[str, str, int], Counter] = {}
        self._error_children: dict[str, Counter] = {}

    def count_stored(self, sources: Iterable[str]) -> None:
        """Add one to ``collector_events_total`` per stored event.

        The number of distinct ``source`` labels is capped: sources come from
        clients, and an unbounded label set is an unbounded memory leak.
        """
        counts = Tally(sources)  # counted in C: this runs once per stored event
        for source, count in counts.items():
            child = self._source_children.get(source)
            if child is None:
                if len(self._source_children) >= self._max_sources:
                    child = self.events_total.labels(OTHER_SOURCE)
                else:
                    child = self.events_total.labels(source)
                    self._source_children[source] = child
            child.inc(count)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route)
        histogram = self._request_children.get(key)
        if histogram is None:
            histogram = self._request_children[key] = self.request_duration.labels(method, route)
        histogram.observe(seconds)
        status_key = (method, route, status)
        counter = self._status_children.get(status_key)
        if counter is None:
            counter = self._status_children[status_key] = self.requests_total.labels(method, route, str(status))
        counter.inc()

    def count_error(self, kind: str) -> None:
        counter = self._error_children.get(kind)
        if counter is None:
            counter = self._error_children[kind] = self.errors_total.labels(kind)
        counter.inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
