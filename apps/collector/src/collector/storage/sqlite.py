"""SQLite backend: the embedded default, so ``python -m collector`` just works.

The stdlib ``sqlite3`` module runs on two dedicated threads (one writer, one
reader) so the event loop never blocks on disk. WAL mode lets the reader run
while the writer commits; ``synchronous=FULL`` makes every commit durable
before the writer group resolves, which is what a 201 promises.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from collector.storage.base import EventQuery, EventRow, StoreUnavailable

T = TypeVar("T")

SCHEMA_VERSION = 1
_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS events (
               time_us    INTEGER NOT NULL,
               id         TEXT    NOT NULL,
               source     TEXT    NOT NULL,
               action     TEXT    NOT NULL,
               attributes TEXT    NOT NULL DEFAULT '{}'
           )""",
        # (time, id) orders every listing and makes ids unique; the two others
        # serve the source / action filters without a sort.
        "CREATE UNIQUE INDEX IF NOT EXISTS events_time_id ON events (time_us, id)",
        "CREATE INDEX IF NOT EXISTS events_source_time_id ON events (source, time_us, id)",
        "CREATE INDEX IF NOT EXISTS events_action_time_id ON events (action, time_us, id)",
    ],
}


class SqliteStore:
    """Events in one SQLite file."""

    backend = "sqlite"

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.path = path
        self.available = False
        self._timeout = timeout
        self._writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._reader_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-reader")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
        return connection

    async def _on(self, executor: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, work)
        except sqlite3.OperationalError as exc:
            # Locked / unreadable / disk full: the store cannot serve right now.
            self.available = False
            raise StoreUnavailable(f"sqlite: {exc}") from exc

    async def open(self) -> None:
        parent = Path(self.path).expanduser().resolve().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"sqlite: cannot create {parent}: {exc.strerror}") from exc

        def setup() -> sqlite3.Connection:
            connection = self._connect()
            _migrate(connection)
            return connection

        self._writer = await self._on(self._writer_thread, setup)
        self._reader = await self._on(self._reader_thread, self._connect)
        self.available = True

    async def close(self) -> None:
        for executor, connection in ((self._writer_thread, self._writer), (self._reader_thread, self._reader)):
            if connection is not None:
                await asyncio.get_running_loop().run_in_executor(executor, connection.close)
            executor.shutdown(wait=True)
        self._writer = self._reader = None
        self.available = False

    async def insert(self, rows: Sequence[EventRow]) -> None:
        writer = self._require(self._writer)

        def transaction() -> None:
            writer.execute("BEGIN IMMEDIATE")
            try:
                writer.executemany(
                    "INSERT INTO events (id, time_us, source, action, attributes) VALUES (?, ?, ?, ?, ?)", rows
                )
            except BaseException:
                writer.execute("ROLLBACK")
                raise
            writer.execute("COMMIT")

        await self._on(self._writer_thread, transaction)

    async def query(self, query: EventQuery, limit: int) -> list[EventRow]:
        reader = self._require(self._reader)
        where, args = query.where_clause("time_us", lambda _: "?")
        sql = (
            f"SELECT id, time_us, source, action, attributes FROM events {where} ORDER BY time_us DESC, id DESC LIMIT ?"
        )
        args.append(limit)
        return await self._on(self._reader_thread, lambda: reader.execute(sql, args).fetchall())

    async def ping(self, timeout: float) -> None:
        reader = self._require(self._reader)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
            async with asyncio.timeout(timeout):
                await self._on(self._reader_thread, lambda: reader.execute("SELECT 1").fetchone())
        except TimeoutError:
            self.available = False
            raise StoreUnavailable("sqlite: ping timed out") from None
        self.available = True

    async def delete_older_than(self, cutoff_us: int, limit: int) -> int:
        writer = self._require(self._writer)

        def delete() -> int:
            cursor = writer.execute(
                "DELETE FROM events WHERE rowid IN "
                "(SELECT rowid FROM events WHERE time_us < ? ORDER BY time_us LIMIT ?)",
                (cutoff_us, limit),
            )
            return cursor.rowcount

        return await self._on(self._writer_thread, delete)

    async def count(self) -> int:
        reader = self._require(self._reader)
        return await self._on(self._reader_thread, lambda: reader.execute("SELECT count(*) FROM events").fetchone()[0])

    @staticmethod
    def _require(connection: sqlite3.Connection | None) -> sqlite3.Connection:
        if connection is None:
            raise StoreUnavailable("sqlite store is not open")
        return connection


def _migrate(connection: sqlite3.Connection) -> None:
    """Apply missing migrations in one exclusive transaction (safe if two processes start at once)."""
    connection.execute("BEGIN EXCLUSIVE")
    try:
        connection.execute("CREATE TABLE IF NOT EXISTS collector_schema_version (version INTEGER PRIMARY KEY)")
        applied = {row[0] for row in connection.execute("SELECT version FROM collector_schema_version")}
        for version in sorted(_MIGRATIONS):
            if version in applied:
                continue
            for statement in _MIGRATIONS[version]:
                connection.execute(statement)
            connection.execute("INSERT INTO collector_schema_version (version) VALUES (?)", (version,))
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
