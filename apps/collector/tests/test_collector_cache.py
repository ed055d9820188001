"""The Redis recent-events window: served when healthy, bypassed (and counted) when Redis is down or slow."""

from __future__ import annotations

import asyncio

import pytest

import collector.cache as cache_module

FALLBACKS = "collector_cache_fallbacks_total"
HITS = ("collector_cache_requests_total", {"result": "hit"})


@pytest.fixture(autouse=True)
def _short_circuit_breaker(monkeypatch):
    # Production skips Redis for a second after a failure; tests need not wait that long.
    monkeypatch.setattr(cache_module, "CIRCUIT_OPEN_SECONDS", 0.05)


@pytest.fixture
async def cached_app(start_app, make_settings, make_proxy, postgres_url, pg_schema, redis_url, redis_prefix):
    """App on the real PostgreSQL, with Redis reached through a proxy the test can cut or stall."""
    proxy = await make_proxy(redis_url)
    settings = make_settings(
        database_url=postgres_url,
        database_schema=pg_schema,
        redis_url=proxy.url_for(redis_url),
        redis_key_prefix=redis_prefix,
        redis_timeout_seconds=0.3,
    )
    async with start_app(settings) as (app, client):
        yield app, client, proxy


async def wait_for_cache_hit(client, read_metric, path: str = "/events?limit=10") -> dict:
    """GET ``path`` until it is served from the window (the first read after a miss rebuilds it)."""
    # No hit yet means no `hit` child yet; later reads must find it.
    before = await read_metric(client, *HITS, absent=0.0)
    for _ in range(100):
        response = await client.get(path)
        assert response.status_code == 200
        if await read_metric(client, *HITS, absent=0.0) > before:
            return response.json()
        await asyncio.sleep(0.05)
    raise AssertionError("the recent window was never served from Redis")


async def test_recent_reads_are_served_from_redis_and_match_the_database(cached_app, read_metric):
    """If this fails, the cache serves different data than the database, or is never used."""
    _app, client, _proxy = cached_app
    for index in range(12):
        assert (
            await client.post("/events", json={"source": "c", "action": str(index), "attributes": {"i": index}})
        ).status_code == 201
    from_cache = await wait_for_cache_hit(client, read_metric)
    from_database = (await client.get("/events", params={"limit": 10, "since": "1970-01-01T00:00:00Z"})).json()
    assert from_cache["events"] == from_database["events"]
    assert len(from_cache["events"]) == 10
    next_page = (await client.get("/events", params={"limit": 10, "cursor": from_cache["next_cursor"]})).json()
    assert [event["action"] for event in next_page["events"]] == ["1", "0"]


async def test_a_post_is_visible_to_the_next_read_from_the_cache(cached_app, read_metric):
    """If this fails, a client that reads right after its 201 does not see its own event."""
    _app, client, _proxy = cached_app
    await client.post("/events", json={"source": "c", "action": "warm"})
    await wait_for_cache_hit(client, read_metric)
    event_id = (await client.post("/events", json={"source": "c", "action": "fresh"})).json()["ids"][0]
    hits_before = await read_metric(client, *HITS)
    newest = (await client.get("/events?limit=1")).json()["events"][0]
    assert await read_metric(client, *HITS) == hits_before + 1
    assert newest["id"] == event_id


async def test_with_redis_down_reads_fall_back_to_the_database_and_writes_still_succeed(cached_app, read_metric):
    """If this fails, a Redis outage takes the event API down with it, or goes unnoticed in the metrics."""
    _app, client, proxy = cached_app
    await client.post("/events", json={"source": "c", "action": "before"})
    await wait_for_cache_hit(client, read_metric)
    await proxy.cut()
    written = await client.post("/events", json={"source": "c", "action": "during"})
    assert written.status_code == 201
    listed = await client.get("/events?limit=5")
    assert listed.status_code == 200
    assert [event["action"] for event in listed.json()["events"]] == ["during", "before"]
    assert await read_metric(client, FALLBACKS, {"operation": "write"}) >= 1
    assert await read_metric(client, FALLBACKS, {"operation": "read"}) >= 1
    assert (await client.get("/readyz")).status_code == 200  # Redis is optional for readiness


async def test_with_redis_hanging_requests_fall_back_instead_of_hanging(cached_app, read_metric):
    """If this fails, a slow Redis makes every request as slow as Redis (no timeout / fallback)."""
    _app, client, proxy = cached_app
    await client.post("/events", json={"source": "c", "action": "before"})
    await wait_for_cache_hit(client, read_metric)
    proxy.stall()
    written = await client.post("/events", json={"source": "c", "action": "during"}, timeout=5)
    assert written.status_code == 201
    listed = await client.get("/events?limit=5", timeout=5)
    assert [event["action"] for event in listed.json()["events"]] == ["during", "before"]
    assert await read_metric(client, FALLBACKS, {"operation": "read"}) >= 1


async def test_events_written_while_redis_was_down_are_in_the_window_after_it_returns(cached_app, read_metric):
    """If this fails, the window has a hole after an outage and serves an incomplete recent list."""
    _app, client, proxy = cached_app
    await client.post("/events", json={"source": "c", "action": "before"})
    await wait_for_cache_hit(client, read_metric)
    await proxy.cut()
    missed = (await client.post("/events", json={"source": "c", "action": "during"})).json()["ids"][0]
    await proxy.restore()
    await asyncio.sleep(0.1)  # let the circuit breaker close
    after = (await client.post("/events", json={"source": "c", "action": "after"})).json()["ids"][0]
    window = await wait_for_cache_hit(client, read_metric)
    assert [event["id"] for event in window["events"][:2]] == [after, missed]


def test_the_one_pass_packer_sends_exactly_the_bytes_redis_py_would_and_leaves_other_commands_to_it():
    """If this fails, the window's ZADD goes to Redis malformed (a broken cache, or a wrong member),
    or a command with str/int arguments bypasses redis-py's encoder."""
    from redis.asyncio.connection import Connection

    from collector.cache import _bytes_packing, zadd_arguments

    rows = [
        (f"0190a6f0-0000-7000-8000-00000000000{n}", 1_764_125_000_000_000 + n, "web", "ä", '{"x":1}') for n in range(3)
    ]
    fast, stock = _bytes_packing(Connection)(), Connection()
    zadd = (b"ZADD", b"prefix:recent", *zadd_arguments(rows))
    assert fast.pack_command(*zadd) == [b"".join(stock.pack_command(*zadd))]
    assert len(fast.pack_command(*zadd)) == 1
    mixed = ("ZREMRANGEBYRANK", "prefix:recent", 0, -11)
    assert fast.pack_command(*mixed) == stock.pack_command(*mixed)
    spaced = (b"CONFIG GET", b"maxmemory")
    assert fast.pack_command(*spaced) == stock.pack_command(*spaced)
