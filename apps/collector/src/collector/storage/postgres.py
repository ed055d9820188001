"""PostgreSQL backend (``DATABASE_URL`` set), on an asyncpg pool.

Choices that matter in production:

* The pool starts empty (``min_size=0``) so the process starts, answers
  ``/healthz`` and reports not-ready while the database is down, and
  reconnects by itself when it returns.
* Every operation is bounded by ``DB_TIMEOUT_SECONDS`` (connect, acquire and
  statement), so an unreachable database yields a quick 503, never a hang.
* Connection-level failures become :class:`StoreUnavailable`; anything else is
  a real error and propagates.
* Times travel as int64 microseconds through asyncpg's tuple codec (no
  ``datetime`` objects on the hot path); ``attributes`` is ``json`` (not
  ``jsonb``): the API never queries inside it, ``json`` is cheaper to insert
  and it returns the exact text stored, which the Redis window relies on.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg
import asyncpg.exceptions as pg_errors
import orjson

from collector.storage.base import EventQuery, EventRow, StoreUnavailable

T = TypeVar("T")

# PostgreSQL timestamps count microseconds from 2000-01-01; ours from 1970-01-01.
_PG_EPOCH_OFFSET_US = 946_684_800_000_000

#: Errors meaning "the database is not there right now" rather than "this statement is wrong".
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionRefusedError and TimeoutError
    asyncpg.InterfaceError,
    pg_errors.PostgresConnectionError,
    pg_errors.OperatorInterventionError,  # admin shutdown, cannot connect now, statement cancelled
    pg_errors.InsufficientResourcesError,  # too many connections, disk full
    pg_errors.ReadOnlySQLTransactionError,  # failover left us on a standby
)
#: What closing the pool may raise besides: it did not finish in time.
_CLOSE_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, *UNAVAILABLE_ERRORS)


def _migrations(schema: str) -> dict[int, list[str]]:
    table = f'"{schema}".events'
    return {
        1: [
            f"""CREATE TABLE IF NOT EXISTS {table} (
                    time       timestamptz NOT NULL,
                    id         uuid        NOT NULL,
                    source     text        NOT NULL,
                    action     text        NOT NULL,
                    attributes json        NOT NULL DEFAULT '{{}}',
                    PRIMARY KEY (time, id)
                )""",
            # The primary key serves unfiltered listings, since/until and retention;
            # these two serve the source and action filters in (time, id) order.
            f"CREATE INDEX IF NOT EXISTS events_source_time_id ON {table} (source, time, id)",
            f"CREATE INDEX IF NOT EXISTS events_action_time_id ON {table} (action, time, id)",
        ],
    }


async def _init_connection(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=lambda micros: (micros - _PG_EPOCH_OFFSET_US,),
        decoder=lambda value: value[0] + _PG_EPOCH_OFFSET_US,
        format="tuple",
    )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Pool reset hook: we never change session state, so skip asyncpg's reset round trip."""


class PostgresStore:
    """Events in a PostgreSQL table ``<schema>.events``."""

    backend = "postgres"

    def __init__(self, dsn: str, schema: str = "public", pool_size: int = 8, timeout: float = 5.0) -> None:
        self._dsn = dsn
        self.schema = schema
        self._pool_size = pool_size
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self.available = False
        # Until the schema has been created / migrated once, a reachable server is not enough.
        self._migrated = False
        table = f'"{schema}".events'
        self.table = table
        self._insert_sql = (
            f"INSERT INTO {table} (id, time, source, action, attributes) "
            "SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::json[])"
        )
        # A group commit stamps one time on all its rows: sent once, not once per row (the
        # timestamptz codec is a Python call per value; batched ingest profiled it). The rows
        # travel as one JSON array (``orjson.dumps`` of the tuples, one C call) instead of four
        # arrays asyncpg encodes element by element; ``->>`` returns the attributes' exact text.
        self._insert_one_time_sql = (
            f"INSERT INTO {table} (id, time, source, action, attributes) "
            "SELECT (r->>0)::uuid, $2::timestamptz, r->>2, r->>3, (r->>4)::json "
            "FROM json_array_elements($1::json) AS r"
        )
        self._delete_sql = (
            f"WITH doomed AS (SELECT time, id FROM {table} WHERE time < $1 ORDER BY time LIMIT $2) "
            f"DELETE FROM {table} AS e USING doomed AS d WHERE e.time = d.time AND e.id = d.id"
        )

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=0,
                max_size=self._pool_size,
                timeout=self._timeout,  # connect timeout
                command_timeout=self._timeout,
                max_inactive_connection_lifetime=60.0,
                init=_init_connection,
                reset=_keep_session,
                server_settings={"application_name": "event-collector"},
            )
        await self._run(self._migrate)
        self._migrated = True
        self.available = True

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        self.available = False
        if pool is not None:
            try:
                async with asyncio.timeout(self._timeout):
                    await pool.close()
            except _CLOSE_ERRORS:
                pool.terminate()

    async def _run(self, operation: Callable[[asyncpg.Connection], Awaitable[T]], timeout: float | None = None) -> T:
        """Run ``operation`` on a pooled connection, bounded in time, translating outages."""
        if self._pool is None:
            raise StoreUnavailable("postgres store is not open")
        budget = timeout if timeout is not None else self._timeout
        try:
            # asyncpg's own limits (connect, acquire, statement, release) fire first;
            # this outer bound only guards against anything they miss. Cancelling
            # asyncpg mid-release would leave orphaned tasks, hence the slack.
            async with asyncio.timeout(budget * 3):
                async with self._pool.acquire(timeout=budget) as connection:
                    result = await operation(connection)
        except UNAVAILABLE_ERRORS as exc:
            self.available = False
            raise StoreUnavailable(f"postgres: {type(exc).__name__}: {exc}") from exc
        if self._migrated:
            self.available = True
        return result

    async def _migrate(self, connection: asyncpg.Connection) -> None:
        lock_key = zlib.crc32(f"event-collector:{self.schema}".encode())
        async with connection.transaction():
            # Replicas starting together must not race on CREATE ... IF NOT EXISTS.
            await connection.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
            schema_exists = await connection.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", self.schema)
            if not schema_exists:
                await connection.execute(f'CREATE SCHEMA "{self.schema}"')
            await connection.execute(
                f'CREATE TABLE IF NOT EXISTS "{self.schema}".collector_schema_version '
                "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = {
                row[0]
                for row in await connection.fetch(f'SELECT version FROM "{self.schema}".collector_schema_version')
            }
            for version, statements in sorted(_migrations(self.schema).items()):
                if version in applied:
                    continue
                for statement in statements:
                    await connection.execute(statement)
                await connection.execute(
                    f'INSERT INTO "{self.schema}".collector_schema_version (version) VALUES ($1)', version
                )

    async def insert(self, rows: Sequence[EventRow]) -> None:
        ids, times, sources, actions, attributes = zip(*rows, strict=True)

        one_time = times.count(times[0]) == len(times)

        async def insert(connection: asyncpg.Connection) -> None:
            # One statement = one transaction = one WAL flush for the whole group.
            if one_time:
                await connection.execute(self._insert_one_time_sql, orjson.dumps(rows).decode(), times[0])
            else:
                await connection.execute(self._insert_sql, ids, times, sources, actions, attributes)

        await self._run(insert)

    async def query(self, query: EventQuery, limit: int) -> list[EventRow]:
        where, args = query.where_clause("time", lambda n: f"${n}", id_cast="::uuid")
        args.append(limit)
        # A bounded set of statement shapes (2^5), so asyncpg's prepared-statement cache stays small.
        sql = (
            f"SELECT id, time, source, action, attributes FROM {self.table} {where} "
            f"ORDER BY time DESC, id DESC LIMIT ${len(args)}"
        )

        async def fetch(connection: asyncpg.Connection) -> list[EventRow]:
            records = await connection.fetch(sql, *args)
            return [(str(r[0]), r[1], r[2], r[3], r[4]) for r in records]

        return await self._run(fetch)

    async def ping(self, timeout: float) -> None:
        if not self._migrated:
            # Readiness must stay cheap: the database monitor (re)runs open() in the background.
            raise StoreUnavailable("postgres: schema not created yet (database unreachable at start)")

        async def select_one(connection: asyncpg.Connection) -> None:
            await connection.fetchval("SELECT 1", timeout=timeout)

        await self._run(select_one, timeout=timeout)

    async def delete_older_than(self, cutoff_us: int, limit: int) -> int:
        async def delete(connection: asyncpg.Connection) -> int:
            status = await connection.execute(self._delete_sql, cutoff_us, limit)
            return int(status.rsplit(" ", 1)[1])

        return await self._run(delete)

    async def count(self) -> int:
        async def count(connection: asyncpg.Connection) -> int:
            return int(await connection.fetchval(f"SELECT count(*) FROM {self.table}"))

        return await self._run(count, timeout=max(self._timeout, 60.0))
