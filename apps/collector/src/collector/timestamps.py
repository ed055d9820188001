"""Time handling: events carry integer microseconds since the Unix epoch internally.

Integers keep storage, comparisons and the Redis scores exact and cheap; the
RFC 3339 text form exists only at the API edge.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# RFC 3339 section 5.6 date-time: full date, T (or space), time, mandatory offset.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")

# (second, "YYYY-MM-DDTHH:MM:SS") of the last formatted time: consecutive events
# almost always share the second, and strftime is the expensive part.
_last_second: tuple[int, str] = (-1, "")


def now_us() -> int:
    """Current wall-clock time in microseconds since the epoch."""
    return time.time_ns() // 1000


def format_time(micros: int) -> str:
    """``1700000000123456`` -> ``"2023-11-14T22:13:20.123456Z"`` (RFC 3339, UTC)."""
    global _last_second
    second, fraction = divmod(micros, 1_000_000)
    cached_second, prefix = _last_second
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last_second = (second, prefix)
    return f"{prefix}.{fraction:06d}Z"


def parse_time(text: str) -> int:
    """Parse an RFC 3339 date-time (offset required) into epoch microseconds.

    Raises ``ValueError`` for anything else, including dates without a time or
    an offset, and impossible dates such as February 30.
    """
    if not _RFC3339.match(text):
        raise ValueError("not an RFC 3339 date-time with offset")
    normalised = text.replace("t", "T").replace("z", "Z")
    parsed = datetime.fromisoformat(normalised)
    return (parsed - _EPOCH) // _MICROSECOND
