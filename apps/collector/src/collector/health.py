"""Database watchdog: keeps the store's availability flag true to reality.

While the database is down, writes fail fast (503) instead of queueing, so
something must notice when it is back: this task probes every
``DOWN_PROBE_SECONDS`` while it is down (re-running the idempotent schema
setup if the service started without a database) and every
``UP_PROBE_SECONDS`` while it is up.
"""

from __future__ import annotations

import asyncio
import logging

from collector.metrics import Metrics
from collector.storage.base import EventStore, StoreUnavailable

log = logging.getLogger("collector.health")

DOWN_PROBE_SECONDS = 0.5
UP_PROBE_SECONDS = 5.0
#: Longest a readiness probe waits for the database.
READY_PROBE_TIMEOUT_SECONDS = 1.0


class DatabaseMonitor:
    """Background prober of one store."""

    def __init__(self, store: EventStore, metrics: Metrics, *, opened: bool, timeout: float) -> None:
        self._store = store
        self._metrics = metrics
        self._opened = opened
        self._timeout = min(timeout, READY_PROBE_TIMEOUT_SECONDS)
        self._reported_down = not opened

    async def probe(self) -> bool:
        """One probe (open/migrate if never opened, else ping); True when the database answered."""
        try:
            if not self._opened:
                await self._store.open()
                self._opened = True
            else:
                await self._store.ping(self._timeout)
        except StoreUnavailable as exc:
            if not self._reported_down:
                log.error("database unavailable", extra={"fields": {"error": str(exc)}})
                self._reported_down = True
            self._metrics.database_up.set(0)
            return False
        if self._reported_down:
            log.info("database available")
            self._reported_down = False
        self._metrics.database_up.set(1)
        return True

    async def run_forever(self) -> None:
        """Probe at once whenever the store is marked down, otherwise every ``UP_PROBE_SECONDS``."""
        since_probe = UP_PROBE_SECONDS
        while True:
            if not self._opened or not self._store.available or since_probe >= UP_PROBE_SECONDS:
                await self.probe()
                since_probe = 0.0
            await asyncio.sleep(DOWN_PROBE_SECONDS)
            since_probe += DOWN_PROBE_SECONDS
