"""Group commit: many concurrent POSTs share one database transaction.

Each request puts its validated events on a queue and awaits a future. A
writer task takes everything queued (up to ``MAX_EVENTS_PER_COMMIT``; a
request's batch is never split), stamps time and ids, writes it all in one
transaction, and resolves the futures only after COMMIT returned. So:

* a 201 always means "durably committed" (nothing is acknowledged from memory);
* under load one commit (one WAL flush) serves dozens of requests, which is
  what keeps throughput from collapsing under many small POSTs;
* no artificial delay: while one commit is in flight the next group forms.

The queue is bounded (``MAX_PENDING_EVENTS``): beyond it requests get 503
instead of growing memory without limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from operator import itemgetter

from collector.ids import IdGenerator
from collector.metrics import Metrics
from collector.storage.base import EventRow, EventStore, StoreUnavailable
from collector.timestamps import now_us
from collector.validation import NewEvent

log = logging.getLogger("collector.writer")

_SOURCE = itemgetter(2)


class Overloaded(Exception):
    """Too many events are already waiting for commit (answered with 503)."""


class WriterClosed(Exception):
    """The writer is shutting down and takes no new events (answered with 503)."""


class _Request:
    __slots__ = ("events", "future", "ids")

    def __init__(self, events: list[NewEvent], future: asyncio.Future[list[str]]) -> None:
        self.events = events
        self.future = future
        self.ids: list[str] = []


class GroupCommitWriter:
    """Batches concurrent writes into group commits."""

    def __init__(
        self,
        store: EventStore,
        metrics: Metrics,
        *,
        concurrency: int = 1,
        max_events_per_commit: int = 5000,
        max_pending_events: int = 50_000,
        after_commit: Callable[[list[EventRow]], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._concurrency = concurrency
        self._max_events_per_commit = max_events_per_commit
        self._max_pending_events = max_pending_events
        self._after_commit = after_commit
        self._queue: deque[_Request] = deque()
        self._pending_events = 0
        self._wakeup = asyncio.Event()
        self._ids = IdGenerator()
        self._last_time_us = 0
        self._closing = False
        self._workers: list[asyncio.Task[None]] = []

    @property
    def pending_events(self) -> int:
        """Events accepted and not yet committed (or failed)."""
        return self._pending_events

    def start(self) -> None:
        self._workers = [
            asyncio.create_task(self._work(), name=f"group-commit-{index}") for index in range(self._concurrency)
        ]

    async def submit(self, events: list[NewEvent]) -> list[str]:
        """Store ``events`` atomically; return their ids once committed.

        Raises :class:`StoreUnavailable` (database down: fail fast instead of
        queueing), :class:`Overloaded` or :class:`WriterClosed`.
        """
        if self._closing:
            raise WriterClosed("shutting down")
        if not self._store.available:
            raise StoreUnavailable("database unavailable")
        if self._pending_events + len(events) > self._max_pending_events:
            raise Overloaded(f"{self._pending_events} events already waiting for commit")
        request = _Request(events, asyncio.get_running_loop().create_future())
        self._queue.append(request)
        self._pending_events += len(events)
        self._wakeup.set()
        return await request.future

    async def close(self) -> None:
        """Stop taking events, commit everything already queued, then stop the workers."""
        self._closing = True
        self._wakeup.set()
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            while not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
            group, rows = self._take_group()
            try:
                await self._commit(group, rows)
            except asyncio.CancelledError:
                for request in group:
                    _settle(request, exception=WriterClosed("cancelled"))
                raise
            finally:
                self._pending_events -= len(rows)
                self._metrics.pending_events.set(self._pending_events)

    def _take_group(self) -> tuple[list[_Request], list[EventRow]]:
        """Pop queued requests up to the per-commit limit and stamp time and ids on their events."""
        group = [self._queue.popleft()]
        size = len(group[0].events)
        while self._queue and size + len(self._queue[0].events) <= self._max_events_per_commit:
            request = self._queue.popleft()
            group.append(request)
            size += len(request.events)
        # Strictly increasing per process, so (time, id) order is commit order.
        time_us = max(now_us(), self._last_time_us + 1)
        self._last_time_us = time_us
        ids = self._ids.new_ids(size, time_us)
        rows: list[EventRow] = []
        offset = 0
        for request in group:
            count = len(request.events)
            request.ids = ids[offset : offset + count]
            rows.extend(
                (event_id, time_us, source, action, attributes)
                for event_id, (source, action, attributes) in zip(request.ids, request.events, strict=True)
            )
            offset += count
        return group, rows

    async def _commit(self, group: list[_Request], rows: list[EventRow]) -> None:
        started = time.perf_counter()
        try:
            await self._store.insert(rows)
        except StoreUnavailable as exc:
            self._metrics.commit_failures.labels("unavailable").inc()
            for request in group:
                _settle(request, exception=exc)
            return
        except Exception as exc:
            self._metrics.commit_failures.labels("error").inc()
            if len(group) == 1:
                log.error("commit failed", exc_info=True, extra={"fields": {"events": len(rows)}})
                _settle(group[0], exception=exc)
                return
            # One bad request must not fail its neighbours: retry each on its own.
            log.warning(
                "group commit failed; retrying requests one by one",
                extra={"fields": {"requests": len(group), "error": repr(exc)}},
            )
            offset = 0
            for request in group:
                count = len(request.events)
                await self._commit([request], rows[offset : offset + count])
                offset += count
            return
        self._metrics.commit_duration.observe(time.perf_counter() - started)
        self._metrics.commit_events.observe(len(rows))
        self._metrics.count_stored(map(_SOURCE, rows))
        if self._after_commit is not None:
            # Before acknowledging, so a client that reads after its 201 sees its events.
            await self._after_commit(rows)
        for request in group:
            _settle(request, result=request.ids)


def _settle(request: _Request, *, result: list[str] | None = None, exception: BaseException | None = None) -> None:
    # The awaiting handler may have been cancelled meanwhile (client gone, shutdown timeout).
    if request.future.done():
        return
    if exception is not None:
        request.future.set_exception(exception)
    else:
        request.future.set_result(result or [])
