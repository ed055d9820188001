"""Retention: expired events are deleted in bounded batches; fresh ones stay."""

from __future__ import annotations

import asyncio
import uuid

from collector.metrics import Metrics
from collector.retention import Retention
from collector.timestamps import now_us

DAY_US = 86_400 * 1_000_000


def rows(count: int, time_us: int, source: str = "retention") -> list[tuple]:
    return [(str(uuid.uuid4()), time_us + index, source, "tick", "{}") for index in range(count)]


async def test_retention_deletes_only_expired_events_in_bounded_batches(start_app, backend_settings, read_metric):
    """If this fails, retention deletes fresh events, keeps old ones, or deletes everything in one huge statement."""
    async with start_app(backend_settings) as (app, client):
        store = app.state.services.store
        now = now_us()
        expired = rows(25, now - 31 * DAY_US)
        fresh = rows(5, now - 29 * DAY_US)
        await store.insert(expired + fresh)
        retention = Retention(store, app.state.services.metrics, retention_days=30, interval_seconds=60, batch_size=10)
        batches = await retention.run_once(now)
        assert batches == [10, 10, 5]
        assert await store.count() == 5
        remaining = (await client.get("/events")).json()["events"]
        assert {event["id"] for event in remaining} == {r[0] for r in fresh}
        assert await read_metric(client, "collector_events_expired_total") == 25
        assert await retention.run_once(now) == [0]


async def test_retention_exactly_at_a_batch_boundary_stops_after_an_empty_batch(start_app, backend_settings):
    """If this fails, a pass whose count is a multiple of the batch size loops forever or stops early."""
    async with start_app(backend_settings) as (app, _client):
        store = app.state.services.store
        now = now_us()
        await store.insert(rows(20, now - 40 * DAY_US))
        retention = Retention(store, Metrics(), retention_days=30, interval_seconds=60, batch_size=10)
        assert await retention.run_once(now) == [10, 10, 0]
        assert await store.count() == 0


async def test_zero_retention_days_keeps_events_forever(start_app, sqlite_settings):
    """If this fails, RETENTION_DAYS=0 (documented as 'keep forever') deletes events."""
    async with start_app(sqlite_settings) as (app, _client):
        store = app.state.services.store
        await store.insert(rows(3, now_us() - 3650 * DAY_US))
        retention = Retention(store, Metrics(), retention_days=0, interval_seconds=0.01, batch_size=10)
        await asyncio.wait_for(retention.run_forever(), timeout=5)  # returns at once: nothing to do
        assert await store.count() == 3


async def test_the_background_task_expires_events_by_itself(start_app, make_settings, tmp_path, monkeypatch):
    """If this fails, retention only works when called by hand: the service's own loop never runs it."""
    import collector.retention as retention_module

    monkeypatch.setattr(retention_module, "FIRST_PASS_DELAY_SECONDS", 0.01)
    settings = make_settings(sqlite_path=str(tmp_path / "r.db"), retention_days=1, retention_interval_seconds=0.05)
    async with start_app(settings) as (app, _client):
        store = app.state.services.store
        await store.insert(rows(4, now_us() - 2 * DAY_US) + rows(2, now_us()))
        for _ in range(200):
            if await store.count() == 2:
                break
            await asyncio.sleep(0.05)
        assert await store.count() == 2


async def test_retention_also_drops_expired_events_from_the_redis_window(
    start_app, make_settings, postgres_url, pg_schema, redis_url, redis_prefix
):
    """If this fails, the cached recent window keeps serving events the database already deleted."""
    settings = make_settings(
        database_url=postgres_url, database_schema=pg_schema, redis_url=redis_url, redis_key_prefix=redis_prefix
    )
    async with start_app(settings) as (app, client):
        services = app.state.services
        now = now_us()
        old, new = rows(3, now - 10 * DAY_US), rows(2, now - DAY_US)
        await services.store.insert(old + new)
        await services.cache.add(old + new)
        await client.get("/events")  # miss: schedules a rebuild of the window
        await asyncio.wait_for(services.cache._rebuild, timeout=5)
        retention = Retention(
            services.store,
            services.metrics,
            retention_days=5,
            interval_seconds=60,
            batch_size=100,
            cache=services.cache,
        )
        await retention.run_once(now)
        cached = (await client.get("/events")).json()["events"]
        assert {event["id"] for event in cached} == {r[0] for r in new}
