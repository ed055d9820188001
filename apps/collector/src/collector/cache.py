"""Redis cache of the recent-events window (``REDIS_URL`` set).

Layout: one sorted set holding the newest ``CACHE_WINDOW`` events, score =
time in microseconds (exact: below 2**53), member = the event's JSON document,
which starts with its id so equal times order by id exactly as the database
does. A second key marks the window *complete*; only then are reads served
from it. Sorted-set semantics keep the window correct with several replicas
writing at once, and re-adding an event is a no-op.

The cache is strictly optional: every Redis call is bounded by
``REDIS_TIMEOUT_SECONDS``; a failure opens a short circuit breaker during
which Redis is skipped; reads then go to the database and writes still
succeed. ``collector_cache_fallbacks_total{operation}`` counts each time.
A write that could not be mirrored leaves the window incomplete, so it is
invalidated (and rebuilt from the database) as soon as Redis answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from collector.metrics import Metrics
from collector.storage.base import EventQuery, EventRow, EventStore
from collector.timestamps import format_time

log = logging.getLogger("collector.cache")

#: How long Redis is skipped after a failure before it is tried again.
CIRCUIT_OPEN_SECONDS = 1.0
#: The "complete" marker expires so that, whatever goes wrong between replicas,
#: a window is rebuilt from the database at least this often.
COMPLETE_MARKER_TTL_SECONDS = 30
#: Bytes before the id in an event document: ``{"id":"``.
_ID_OFFSET = 7
_ID_END = _ID_OFFSET + 36

_REDIS_FAILURES = (RedisError, OSError)  # OSError covers TimeoutError and refused connections


def event_document(row: EventRow) -> bytes:
    """The JSON document of one event, exactly as ``GET /events`` returns it."""
    return event_documents([row])[0]


def event_documents(rows: Sequence[EventRow]) -> list[bytes]:
    """:func:`event_document` of each row, built by formatting rather than one ``orjson.dumps`` per row.

    The bytes equal ``orjson.dumps`` of the event dict (a test holds them to it): rows of one
    group share their time and mostly their source and action, so each is encoded once.
    """
    encoded: dict[str, bytes] = {}
    times: dict[int, bytes] = {}
    documents: list[bytes] = []
    append = documents.append
    for event_id, time_us, source, action, attributes in rows:
        moment = times.get(time_us)
        if moment is None:
            moment = times[time_us] = format_time(time_us).encode()
        source_json = encoded.get(source)
        if source_json is None:
            source_json = encoded[source] = orjson.dumps(source)
        action_json = encoded.get(action)
        if action_json is None:
            action_json = encoded[action] = orjson.dumps(action)
        append(
            b'{"id":"%b","time":"%b","source":%b,"action":%b,"attributes":%b}'
            % (event_id.encode(), moment, source_json, action_json, attributes.encode())
        )
    return documents


def zadd_arguments(rows: Sequence[EventRow]) -> list[bytes]:
    """``score member score member ...`` of ``ZADD`` for ``rows``, already encoded.

    redis-py's ``zadd`` takes a dict and encodes each score (``repr`` of an int) and member again
    per command; rows of one group share their time, so the score is encoded once here, and bytes
    pass through redis-py's encoder untouched.
    """
    scores: dict[int, bytes] = {}
    arguments: list[bytes] = []
    for row, document in zip(rows, event_documents(rows), strict=True):
        score = scores.get(row[1])
        if score is None:
            score = scores[row[1]] = str(row[1]).encode()
        arguments += (score, document)
    return arguments


def _bytes_packing(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """``connection_class`` whose ``pack_command`` joins all-bytes commands in one pass.

    redis-py's packer re-encodes every argument and grows its buffer one argument at a time; for a
    ``ZADD`` of a whole group (two arguments per event, already bytes) that was most of the cache's
    cost in the batched profile. Commands with any non-bytes argument keep redis-py's packer.
    """

    class BytesPackingConnection(connection_class):  # type: ignore[valid-type,misc]
        def pack_command(self, *args: Any) -> list[bytes]:
            pieces = [b"*%d\r\n" % len(args)]
            append = pieces.append
            for arg in args:
                if type(arg) is not bytes:
                    return super().pack_command(*args)  # type: ignore[no-any-return]
                append(b"$%d\r\n%b\r\n" % (len(arg), arg))
            if b" " in args[0]:
                return super().pack_command(*args)  # type: ignore[no-any-return]
            return [b"".join(pieces)]

    BytesPackingConnection.__name__ = f"BytesPacking{connection_class.__name__}"
    return BytesPackingConnection


def cursor_position(document: bytes, score: float) -> tuple[int, str]:
    """(time_us, id) of a cached event document, for building the next-page cursor."""
    return int(score), document[_ID_OFFSET:_ID_END].decode()


class RecentEventsCache:
    """The newest ``window`` events in a Redis sorted set, with fallback bookkeeping."""

    def __init__(self, url: str, *, window: int, timeout: float, key_prefix: str, metrics: Metrics) -> None:
        self.window = window
        self._timeout = timeout
        self._metrics = metrics
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # a slow cache must cost one timeout, not three
            health_check_interval=0,
            max_connections=64,
        )
        pool = self._redis.connection_pool
        pool.connection_class = _bytes_packing(pool.connection_class)
        self._window_key = f"{key_prefix}recent"
        self._window_key_bytes = self._window_key.encode()
        self._complete_key = f"{key_prefix}recent:complete"
        self._skip_until = 0.0
        # A committed write could not be mirrored: the window has a hole.
        self._incomplete = False
        self._rebuild: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self._rebuild is not None and not self._rebuild.done():
            self._rebuild.cancel()
        await self._redis.aclose()

    def _available(self, operation: str) -> bool:
        if time.monotonic() < self._skip_until:
            self._metrics.cache_fallbacks.labels(operation).inc()
            return False
        return True

    def _failed(self, operation: str, exc: BaseException) -> None:
        if time.monotonic() >= self._skip_until:  # log once per circuit opening, not per request
            log.warning(
                "redis unavailable; falling back to the database",
                extra={"fields": {"operation": operation, "error": f"{type(exc).__name__}: {exc}"}},
            )
        self._skip_until = time.monotonic() + CIRCUIT_OPEN_SECONDS
        self._metrics.cache_fallbacks.labels(operation).inc()

    async def add(self, rows: Sequence[EventRow]) -> None:
        """Mirror freshly committed rows (newest last) into the window. Never raises."""
        if not self._available("write"):
            self._incomplete = True
            return
        # Rows of one group share a time and ascend by id, and groups ascend in
        # time, so only the group's last `window` rows can be in the window.
        newest = rows[-self.window :]
        members = zadd_arguments(newest)
        invalidate = self._incomplete
        try:
            async with asyncio.timeout(self._timeout * 2):
                pipe = self._redis.pipeline(transaction=False)
                if invalidate:
                    # Earlier writes were not mirrored: no replica may serve this window
                    # until it has been rebuilt from the database.
                    pipe.delete(self._complete_key, self._window_key)
                pipe.execute_command(b"ZADD", self._window_key_bytes, *members)
                pipe.zremrangebyrank(self._window_key, 0, -(self.window + 1))
                await pipe.execute()
        except _REDIS_FAILURES as exc:
            self._incomplete = True
            self._failed("write", exc)
            return
        if invalidate:
            self._incomplete = False

    async def recent(self, limit: int, store: EventStore) -> list[tuple[bytes, float]] | None:
        """Up to ``limit + 1`` newest (document, score) pairs, or None to read the database.

        On a miss (window not complete) a background rebuild from ``store`` starts.
        """
        if limit >= self.window or not self._available("read"):
            return None
        try:
            async with asyncio.timeout(self._timeout * 2):
                if self._incomplete:
                    await self._redis.delete(self._complete_key, self._window_key)
                    self._incomplete = False
                    complete, items = 0, []
                else:
                    pipe = self._redis.pipeline(transaction=False)
                    pipe.exists(self._complete_key)
                    pipe.zrevrange(self._window_key, 0, limit, withscores=True)
                    complete, items = await pipe.execute()
        except _REDIS_FAILURES as exc:
            self._failed("read", exc)
            return None
        if not complete:
            self._metrics.cache_requests.labels("miss").inc()
            self.schedule_rebuild(store)
            return None
        self._metrics.cache_requests.labels("hit").inc()
        return items

    def schedule_rebuild(self, store: EventStore) -> None:
        """Refill the window from the database in the background (one rebuild at a time)."""
        if self._rebuild is None or self._rebuild.done():
            self._rebuild = asyncio.create_task(self._rebuild_from(store), name="cache-rebuild")

    async def _rebuild_from(self, store: EventStore) -> None:
        try:
            rows = await store.query(EventQuery(), self.window)
        except Exception:  # the database path reports its own failures
            return
        if not self._available("rebuild"):
            return
        try:
            async with asyncio.timeout(self._timeout * 2):
                pipe = self._redis.pipeline(transaction=False)
                if rows:
                    # Adding (not replacing) keeps events that writers pushed meanwhile.
                    pipe.execute_command(b"ZADD", self._window_key_bytes, *zadd_arguments(rows))
                    pipe.zremrangebyrank(self._window_key, 0, -(self.window + 1))
                pipe.set(self._complete_key, b"1", ex=COMPLETE_MARKER_TTL_SECONDS)
                await pipe.execute()
        except _REDIS_FAILURES as exc:
            self._failed("rebuild", exc)

    async def expire(self, cutoff_us: int) -> None:
        """Drop events older than ``cutoff_us`` (retention) from the window. Never raises."""
        if not self._available("expire"):
            return
        try:
            async with asyncio.timeout(self._timeout * 2):
                await self._redis.zremrangebyscore(self._window_key, "-inf", f"({cutoff_us}")
        except _REDIS_FAILURES as exc:
            self._failed("expire", exc)
