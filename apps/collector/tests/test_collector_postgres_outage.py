"""PostgreSQL going away and coming back, simulated with a TCP proxy (the shared server keeps running)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

#: A request that hangs longer than this fails the test (the client raises a timeout).
NO_HANG = httpx.Timeout(5.0)


@pytest.fixture
async def proxied_postgres(make_proxy, make_settings, postgres_url, pg_schema):
    """(settings, proxy): the app's DATABASE_URL points at a proxy in front of the real server."""
    proxy = await make_proxy(postgres_url)
    settings = make_settings(
        database_url=proxy.url_for(postgres_url), database_schema=pg_schema, db_timeout_seconds=1.0
    )
    return settings, proxy


async def wait_until_ready(client, attempts: int = 200) -> None:
    for _ in range(attempts):
        if (await client.get("/readyz", timeout=NO_HANG)).status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the service did not become ready again by itself")


async def test_postgres_going_away_gives_quick_503s_and_the_service_recovers_by_itself(start_app, proxied_postgres):
    """If this fails, a database outage hangs requests, acknowledges unstored events, or needs a restart to heal."""
    settings, proxy = proxied_postgres
    async with start_app(settings) as (_app, client):
        before = (await client.post("/events", json={"source": "db", "action": "before"})).json()["ids"][0]
        await proxy.cut()
        for _ in range(3):
            write = await client.post("/events", json={"source": "db", "action": "lost"}, timeout=NO_HANG)
            assert write.status_code == 503
            assert write.headers["retry-after"] == "1"
        assert (await client.get("/readyz", timeout=NO_HANG)).status_code == 503
        assert (await client.get("/events?source=db", timeout=NO_HANG)).status_code == 503
        assert (await client.get("/healthz", timeout=NO_HANG)).status_code == 200  # alive: no restart wanted
        await proxy.restore()
        await wait_until_ready(client)
        after = await client.post("/events", json={"source": "db", "action": "after"}, timeout=NO_HANG)
        assert after.status_code == 201
        actions = [event["action"] for event in (await client.get("/events?source=db")).json()["events"]]
        assert actions == ["after", "before"]
        assert before


async def test_a_hanging_postgres_does_not_hang_requests(start_app, proxied_postgres):
    """If this fails, a database that stops answering (no error, just silence) makes requests wait forever."""
    settings, proxy = proxied_postgres
    async with start_app(settings) as (_app, client):
        assert (await client.post("/events", json={"source": "db", "action": "before"})).status_code == 201
        proxy.stall()
        write = await client.post("/events", json={"source": "db", "action": "stuck"}, timeout=NO_HANG)
        assert write.status_code == 503
        assert (await client.get("/readyz", timeout=NO_HANG)).status_code == 503
        proxy.unstall()
        await wait_until_ready(client)
        assert (
            await client.post("/events", json={"source": "db", "action": "after"}, timeout=NO_HANG)
        ).status_code == 201


async def test_the_service_starts_without_postgres_and_becomes_ready_when_it_appears(start_app, proxied_postgres):
    """If this fails, pods crash-loop when they start before the database, instead of waiting not-ready."""
    settings, proxy = proxied_postgres
    await proxy.cut()
    async with start_app(settings) as (_app, client):
        assert (await client.get("/healthz", timeout=NO_HANG)).status_code == 200
        assert (await client.get("/readyz", timeout=NO_HANG)).status_code == 503
        assert (
            await client.post("/events", json={"source": "db", "action": "early"}, timeout=NO_HANG)
        ).status_code == 503
        await proxy.restore()
        await wait_until_ready(client)
        assert (
            await client.post("/events", json={"source": "db", "action": "late"}, timeout=NO_HANG)
        ).status_code == 201
        assert (await client.get("/events")).json()["events"][0]["action"] == "late"


async def test_database_availability_is_exported_as_a_metric(start_app, proxied_postgres, read_metric):
    """If this fails, operators cannot alert on the service losing its database."""
    settings, proxy = proxied_postgres
    async with start_app(settings) as (_app, client):
        await client.get("/readyz")
        assert await read_metric(client, "collector_ready") == 1
        await proxy.cut()
        await client.get("/readyz", timeout=NO_HANG)
        assert await read_metric(client, "collector_ready") == 0
        await client.post("/events", json={"source": "db", "action": "x"}, timeout=NO_HANG)
        assert await read_metric(client, "collector_errors_total", {"kind": "unavailable"}) == 1
