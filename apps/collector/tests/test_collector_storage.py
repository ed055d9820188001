"""Storage backends: idempotent schema setup and indexes that serve every filter."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg
import pytest

from collector.storage.postgres import PostgresStore
from collector.storage.sqlite import SqliteStore


async def test_postgres_schema_setup_is_idempotent_even_when_replicas_start_together(postgres_url, pg_schema):
    """If this fails, a rolling update (several pods migrating at once) or a restart crashes at start."""
    stores = [PostgresStore(postgres_url, schema=pg_schema, pool_size=2) for _ in range(3)]
    try:
        await asyncio.gather(*(store.open() for store in stores))
        await stores[0].close()
        stores[0] = PostgresStore(postgres_url, schema=pg_schema, pool_size=2)
        await stores[0].open()
        assert all(store.available for store in stores)
        assert await stores[0].count() == 0
    finally:
        for store in stores:
            await store.close()


async def test_sqlite_schema_setup_is_idempotent(tmp_path):
    """If this fails, restarting `python -m collector` on an existing database file fails."""
    path = str(tmp_path / "again.db")
    first = SqliteStore(path)
    await first.open()
    await first.insert([("0190d5a2-0000-7000-8000-000000000001", 1, "s", "a", "{}")])
    await first.close()
    second = SqliteStore(path)
    await second.open()
    assert await second.count() == 1
    await second.close()


@pytest.mark.parametrize(
    "where",
    [
        "",
        "WHERE source = 'web'",
        "WHERE action = 'click'",
        "WHERE time >= now() - interval '1 day' AND time < now()",
        "WHERE (time, id) < (now(), '0190d5a2-0000-7000-8000-000000000001'::uuid)",
        "WHERE source = 'web' AND (time, id) < (now(), '0190d5a2-0000-7000-8000-000000000001'::uuid)",
    ],
)
async def test_every_listing_shape_is_served_by_an_index_without_sorting(postgres_url, pg_schema, where):
    """If this fails, a filter or the pagination scans and sorts the whole table once it grows."""
    store = PostgresStore(postgres_url, schema=pg_schema, pool_size=2)
    await store.open()
    await store.close()
    connection = await asyncpg.connect(postgres_url)
    try:
        # With scans and sorts priced out, the planner reads an index in order whenever one can serve
        # the query (an empty test table would otherwise make any plan look cheap).
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            await connection.execute(f"SET {setting} = off")
        plan = "\n".join(
            row[0]
            for row in await connection.fetch(
                f'EXPLAIN SELECT * FROM "{pg_schema}".events {where} ORDER BY time DESC, id DESC LIMIT 101'
            )
        )
    finally:
        await connection.close()
    assert "Index" in plan, plan
    assert "Sort" not in plan, plan
    assert "Filter:" not in plan, plan  # every condition is an index condition, no row-by-row filtering


async def test_sqlite_commits_are_durable_write_ahead_logged_and_fully_synced(tmp_path):
    """If this fails, SQLite acknowledges commits that a power cut can undo (synchronous below FULL)
    or keeps its journal in memory (journal_mode other than WAL), so a 201 no longer means stored."""
    path = tmp_path / "durable.db"
    store = SqliteStore(str(path))
    await store.open()
    try:
        # journal_mode=WAL is a property of the file: a fresh connection must see it.
        with sqlite3.connect(path) as observer:
            assert observer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # synchronous is per connection: both of the store's must run FULL (2).
        # https://www.sqlite.org/pragma.html#pragma_synchronous
        for connection in (store._writer, store._reader):
            assert connection is not None
            assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        await store.close()


async def test_a_postgres_group_insert_stores_each_field_and_the_exact_attributes_text(postgres_url, pg_schema):
    """If this fails, the one-JSON-parameter group insert alters what is stored: a field lands in the
    wrong column, or the attributes text (which the Redis window serves byte for byte) is re-encoded."""
    from collector.storage.base import EventQuery

    attributes = ['{"b": 1,  "a":[1.0e3, "\\u00e9"]}', '{"q":"say \\"hi\\"\\\\n","nul":"a\\u0000b"}', "{}"]
    rows = [
        (f"0190a6f0-0000-7000-8000-00000000000{n}", 1_764_125_000_123_456, f"source-{n}", f"action-{n}", text)
        for n, text in enumerate(attributes)
    ]
    store = PostgresStore(postgres_url, schema=pg_schema, pool_size=1)
    try:
        await store.open()
        await store.insert(rows)
        stored = await store.query(EventQuery(), 10)
    finally:
        await store.close()
    assert sorted(stored) == sorted(rows)
