"""The objects one app instance owns, and its lifecycle state.

``create_app`` builds a :class:`Services`; the Starlette lifespan fills in the
clients (store, writer, cache) and background tasks, and tears them down.
Handlers and middleware read from it instead of module globals, so several
apps can live in one process (tests do that).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from collector.cache import RecentEventsCache
from collector.metrics import Metrics
from collector.retention import Retention
from collector.settings import Settings
from collector.storage.base import EventStore
from collector.validation import EventLimits
from collector.writer import GroupCommitWriter


class Lifecycle:
    """Draining state: set on SIGTERM, read by /readyz and the response path."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        #: Plain attribute, so a signal handler may set it directly (no locks involved).
        self.draining = False
        self.drain_started: float | None = None

    def begin_drain(self) -> None:
        """Readiness turns false at once; responses from now on carry ``Connection: close``.

        Not for signal handlers (it takes the metrics' locks); they set
        ``draining`` and let the event loop call this.
        """
        self.draining = True
        if self.drain_started is None:
            self.drain_started = time.monotonic()
            self._metrics.draining.set(1)
            self._metrics.ready.set(0)


@dataclass
class Services:
    """Everything the handlers need; clients are None until the lifespan has started."""

    settings: Settings
    metrics: Metrics
    lifecycle: Lifecycle
    limits: EventLimits
    auth_tokens: tuple[bytes, ...]
    store: EventStore | None = None
    writer: GroupCommitWriter | None = None
    cache: RecentEventsCache | None = None
    retention: Retention | None = None
    background: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        metrics = Metrics(max_sources=settings.metrics_max_sources)
        return cls(
            settings=settings,
            metrics=metrics,
            lifecycle=Lifecycle(metrics),
            limits=EventLimits(
                max_batch_size=settings.max_batch_size,
                max_field_length=settings.max_field_length,
                max_attributes_bytes=settings.max_attributes_bytes,
            ),
            auth_tokens=tuple(token.encode() for token in settings.auth_tokens),
        )
