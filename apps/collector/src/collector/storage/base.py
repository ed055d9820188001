"""What every storage backend offers, and the shapes it trades in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

#: A stored event: (id, time in epoch microseconds, source, action, attributes JSON text).
#: Tuples rather than objects: millions pass through the write path.
EventRow = tuple[str, int, str, str, str]


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters of ``GET /events``; results are newest first by ``(time, id)``."""

    source: str | None = None
    action: str | None = None
    since_us: int | None = None  # inclusive
    until_us: int | None = None  # exclusive
    before: tuple[int, str] | None = None  # cursor: only events strictly older than this (time, id)
    limit: int = 100

    @property
    def is_recent_window(self) -> bool:
        """True when the query asks only for the newest events (what the Redis window holds)."""
        return (
            self.source is None
            and self.action is None
            and self.since_us is None
            and self.until_us is None
            and self.before is None
        )

    def where_clause(self, time_column: str, placeholder: Callable[[int], str],
                     id_cast: str = "") -> tuple[str, list[object]]:
        """The filters as a SQL WHERE clause (empty without filters) and its parameters, in order.
        ``placeholder(n)`` writes the n-th parameter (1-based) in the backend's style; ``id_cast`` is
        appended to the cursor id's parameter (``::uuid`` on PostgreSQL)."""
        clauses: list[str] = []
        args: list[object] = []

        def arg(value: object) -> str:
            args.append(value)
            return placeholder(len(args))

        if self.source is not None:
            clauses.append(f"source = {arg(self.source)}")
        if self.action is not None:
            clauses.append(f"action = {arg(self.action)}")
        if self.since_us is not None:
            clauses.append(f"{time_column} >= {arg(self.since_us)}")
        if self.until_us is not None:
            clauses.append(f"{time_column} < {arg(self.until_us)}")
        if self.before is not None:
            time_arg = arg(self.before[0])
            clauses.append(f"({time_column}, id) < ({time_arg}, {arg(self.before[1])}{id_cast})")
        return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), args


class StoreUnavailable(Exception):
    """The database cannot be reached or did not answer in time (answered with 503)."""


class EventStore(Protocol):
    """A durable home for events. Implementations: SQLite and PostgreSQL."""

    #: ``"sqlite"`` or ``"postgres"``.
    backend: str
    #: False after a connection-level failure, True after the next success.
    available: bool

    async def open(self) -> None:
        """Connect and create / migrate the schema (idempotent). Raises StoreUnavailable."""

    async def close(self) -> None:
        """Release connections; pending operations must have finished."""

    async def insert(self, rows: Sequence[EventRow]) -> None:
        """Store all rows in ONE transaction; return only after it is committed."""

    async def query(self, query: EventQuery, limit: int) -> list[EventRow]:
        """At most ``limit`` rows matching ``query``, newest first by (time, id)."""

    async def ping(self, timeout: float) -> None:
        """A trivial round trip; raises StoreUnavailable when the database does not answer."""

    async def delete_older_than(self, cutoff_us: int, limit: int) -> int:
        """Delete at most ``limit`` events with time < ``cutoff_us``; return how many."""

    async def count(self) -> int:
        """Number of stored events (for tests, benchmarks and operators; may be slow)."""
