"""Retention: delete events older than ``RETENTION_DAYS`` in bounded batches.

Deleting in batches of ``RETENTION_BATCH_SIZE`` keeps each transaction short
(no long locks, bounded WAL per statement, no memory spike) and pauses briefly
between batches so retention never starves the write path.
"""

from __future__ import annotations

import asyncio
import logging

from collector.cache import RecentEventsCache
from collector.metrics import Metrics
from collector.storage.base import EventStore, StoreUnavailable
from collector.timestamps import now_us

log = logging.getLogger("collector.retention")

_MICROS_PER_DAY = 86_400 * 1_000_000
#: Pause between two delete batches of one pass.
BATCH_PAUSE_SECONDS = 0.05
#: Delay before the first pass after start (let the service settle first).
FIRST_PASS_DELAY_SECONDS = 5.0


class Retention:
    """Periodic deletion of expired events."""

    def __init__(
        self,
        store: EventStore,
        metrics: Metrics,
        *,
        retention_days: int,
        interval_seconds: float,
        batch_size: int,
        cache: RecentEventsCache | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._retention_days = retention_days
        self._interval = interval_seconds
        self._batch_size = batch_size
        self._cache = cache

    def cutoff_us(self, now: int | None = None) -> int:
        """Events with time before this (epoch microseconds) are expired."""
        return (now if now is not None else now_us()) - self._retention_days * _MICROS_PER_DAY

    async def run_once(self, now: int | None = None) -> list[int]:
        """One pass; returns the number deleted by each batch (each <= ``batch_size``)."""
        cutoff = self.cutoff_us(now)
        batches: list[int] = []
        while True:
            deleted = await self._store.delete_older_than(cutoff, self._batch_size)
            batches.append(deleted)
            if deleted:
                self._metrics.expired_events.inc(deleted)
            if deleted < self._batch_size:
                break
            await asyncio.sleep(BATCH_PAUSE_SECONDS)
        if self._cache is not None:
            await self._cache.expire(cutoff)
        return batches

    async def run_forever(self) -> None:
        """Run a pass every ``interval_seconds`` until cancelled (no-op when retention is 0)."""
        if self._retention_days == 0:
            return
        delay = min(FIRST_PASS_DELAY_SECONDS, self._interval)
        while True:
            await asyncio.sleep(delay)
            delay = self._interval
            try:
                batches = await self.run_once()
            except StoreUnavailable as exc:
                self._metrics.retention_runs.labels("unavailable").inc()
                log.warning("retention pass skipped: database unavailable", extra={"fields": {"error": str(exc)}})
                continue
            except Exception:
                self._metrics.retention_runs.labels("error").inc()
                log.exception("retention pass failed")
                continue
            self._metrics.retention_runs.labels("ok").inc()
            deleted = sum(batches)
            if deleted:
                log.info(
                    "expired events deleted",
                    extra={
                        "fields": {"deleted": deleted, "batches": len(batches), "retention_days": self._retention_days}
                    },
                )
