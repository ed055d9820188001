"""Storage backends and the factory that picks one from the settings."""

from __future__ import annotations

from collector.settings import Settings
from collector.storage.base import EventQuery, EventRow, EventStore, StoreUnavailable

__all__ = ["EventQuery", "EventRow", "EventStore", "StoreUnavailable", "create_store"]


def create_store(settings: Settings) -> EventStore:
    """PostgreSQL when ``DATABASE_URL`` is set, otherwise SQLite at ``SQLITE_PATH``."""
    if settings.database_url:
        from collector.storage.postgres import PostgresStore

        return PostgresStore(
            settings.database_url,
            schema=settings.database_schema,
            pool_size=settings.db_pool_size,
            timeout=settings.db_timeout_seconds,
        )
    from collector.storage.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path, timeout=settings.db_timeout_seconds)
