"""Validation of ``POST /events`` bodies and ``GET /events`` query strings.

Hand-written rather than pydantic: the rules are few and exact, and this runs
for every event on the hot path, where a model instance per event would cost
more than the rest of the request.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import orjson

from collector.storage.base import EventQuery
from collector.timestamps import parse_time

#: (source, action, attributes as compact JSON text) — a validated event before it is stamped.
NewEvent = tuple[str, str, str]

ALLOWED_EVENT_FIELDS = frozenset({"source", "action", "attributes"})
SERVER_FIELDS = frozenset({"id", "time"})
QUERY_PARAMETERS = frozenset({"source", "action", "since", "until", "limit", "cursor"})
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: Most field errors listed in one 422 body (a 1000-event batch of garbage must not echo megabytes).
MAX_REPORTED_ERRORS = 100

_MISSING = object()
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class MalformedJson(Exception):
    """The body is not JSON at all (answered with 400)."""


class InvalidInput(Exception):
    """Well-formed input with bad values (answered with 422); ``errors`` names each field."""

    def __init__(self, errors: list[dict[str, str]], total: int | None = None) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors
        self.total = total if total is not None else len(errors)


@dataclass(frozen=True, slots=True)
class EventLimits:
    """The size rules an event must satisfy (from settings)."""

    max_batch_size: int
    max_field_length: int
    max_attributes_bytes: int


class _Errors:
    """Collects field errors, keeping at most ``MAX_REPORTED_ERRORS`` of them."""

    __slots__ = ("items", "total")

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []
        self.total = 0

    def add(self, field: str, message: str) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED_ERRORS:
            self.items.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.total:
            raise InvalidInput(self.items, self.total)


def parse_events(body: bytes, limits: EventLimits) -> list[NewEvent]:
    """Decode and validate one event object or an array of them.

    Returns the events in order. Raises :class:`MalformedJson` if the body is
    not JSON and :class:`InvalidInput` listing every bad field otherwise; a
    batch is accepted whole or not at all.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(str(exc)) from None
    errors = _Errors()
    if type(document) is list:
        if not document:
            errors.add("body", "must contain at least one event")
        elif len(document) > limits.max_batch_size:
            errors.add("body", f"holds {len(document)} events; at most {limits.max_batch_size} are allowed per request")
        errors.raise_if_any()
        events = [
            _valid_event(item, limits) or _check_event(item, f"[{index}].", errors, limits)
            for index, item in enumerate(document)
        ]
    else:
        events = [_valid_event(document, limits) or _check_event(document, "", errors, limits)]
    errors.raise_if_any()
    return events  # type: ignore[return-value]  # no None left once there are no errors


def _valid_event(item: Any, limits: EventLimits) -> NewEvent | None:
    """The event when it is plainly valid, else None (then :func:`_check_event` says what is wrong).

    The same rules as :func:`_check_event`, in one expression per field: this runs for every
    event, and most events are valid.
    """
    if type(item) is not dict:
        return None
    source = item.get("source")
    action = item.get("action")
    max_length = limits.max_field_length
    if not (
        type(source) is str
        and type(action) is str
        and 0 < len(source) <= max_length
        and 0 < len(action) <= max_length
        and not source.isspace()
        and not action.isspace()
        and "\x00" not in source
        and "\x00" not in action
    ):
        return None
    size = len(item)
    if size == 2:
        return (source, action, "{}")
    if size != 3 or "attributes" not in item:
        return None
    attributes = item["attributes"]
    if attributes is None:
        return (source, action, "{}")
    if type(attributes) is not dict:
        return None
    encoded = _encode_attributes(attributes)
    if encoded is None or _too_large(encoded, limits):
        return None
    return (source, action, encoded.decode())


def _encode_attributes(attributes: dict[str, Any]) -> bytes | None:
    """The attributes as compact JSON, or None when they nest deeper than JSON output allows."""
    try:
        return orjson.dumps(attributes)
    except orjson.JSONEncodeError:
        # Parsing allows 1024 levels of nesting, serializing only 254.
        return None


def _too_large(encoded: bytes, limits: EventLimits) -> bool:
    """The one place the ``MAX_ATTRIBUTES_BYTES`` limit is applied: UTF-8 bytes, the limit itself allowed."""
    return len(encoded) > limits.max_attributes_bytes


def _check_event(item: Any, prefix: str, errors: _Errors, limits: EventLimits) -> NewEvent | None:
    if type(item) is not dict:
        errors.add(prefix[:-1] or "body", "must be a JSON object with `source` and `action`")
        return None
    source = _check_text(item.get("source", _MISSING), prefix + "source", errors, limits.max_field_length)
    action = _check_text(item.get("action", _MISSING), prefix + "action", errors, limits.max_field_length)
    attributes = item.get("attributes")
    attributes_json = "{}"
    if attributes is not None:
        if type(attributes) is not dict:
            errors.add(prefix + "attributes", "must be a JSON object")
        else:
            encoded = _encode_attributes(attributes)
            if encoded is None:
                errors.add(prefix + "attributes", "is nested too deeply")
            elif _too_large(encoded, limits):
                errors.add(
                    prefix + "attributes",
                    f"is {len(encoded)} bytes as JSON; at most {limits.max_attributes_bytes} are allowed",
                )
            else:
                attributes_json = encoded.decode()
    if len(item) > 3 or not ALLOWED_EVENT_FIELDS.issuperset(item):
        for key in item:
            if key not in ALLOWED_EVENT_FIELDS:
                shown = key if len(key) <= 64 else key[:64] + "..."
                reason = "is set by the server" if key in SERVER_FIELDS else "is not a known field"
                errors.add(prefix + shown, f"{reason}; allowed fields are source, action, attributes")
    if source is None or action is None:
        return None
    return (source, action, attributes_json)


def _check_text(value: Any, field: str, errors: _Errors, max_length: int) -> str | None:
    if value is _MISSING:
        errors.add(field, "is required")
    elif type(value) is not str:
        errors.add(field, "must be a string")
    elif not value or value.isspace():
        errors.add(field, "must not be empty")
    elif len(value) > max_length:
        errors.add(field, f"is {len(value)} characters long; at most {max_length} are allowed")
    elif "\x00" in value:
        # PostgreSQL text cannot hold NUL; reject it here instead of failing at commit.
        errors.add(field, "must not contain NUL characters")
    else:
        return value
    return None


def encode_cursor(time_us: int, event_id: str) -> str:
    """Opaque pagination cursor pointing just after the event ``(time_us, event_id)``."""
    return base64.urlsafe_b64encode(f"{time_us}:{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """Inverse of :func:`encode_cursor`; raises ``ValueError`` for anything it did not produce."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a cursor") from None
    time_text, _, event_id = raw.partition(":")
    if not time_text.isdigit() or len(time_text) > 18 or not _UUID.match(event_id):
        raise ValueError("not a cursor")
    return int(time_text), event_id


def parse_query(params: list[tuple[str, str]], max_field_length: int) -> EventQuery:
    """Validate ``GET /events`` query parameters into an :class:`EventQuery`.

    ``limit`` in the result is what the client asked for; the store is asked for
    one more row to learn whether a next page exists.
    """
    errors = _Errors()
    values: dict[str, str] = {}
    for name, value in params:
        if name not in QUERY_PARAMETERS:
            errors.add(name[:64], "is not a known query parameter; use source, action, since, until, limit, cursor")
        elif name in values:
            errors.add(name, "is given more than once")
        else:
            values[name] = value

    def text(name: str) -> str | None:
        value = values.get(name)
        if value is None:
            return None
        if not value or len(value) > max_field_length or "\x00" in value:
            errors.add(name, f"must be 1 to {max_field_length} characters without NUL")
            return None
        return value

    def moment(name: str) -> int | None:
        value = values.get(name)
        if value is None:
            return None
        try:
            return parse_time(value)
        except (ValueError, OverflowError):
            errors.add(name, "must be an RFC 3339 date-time with offset, e.g. 2024-05-01T12:00:00Z")
            return None

    limit = DEFAULT_LIMIT
    if "limit" in values:
        raw_limit = values["limit"]
        if raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 6 and 1 <= int(raw_limit) <= MAX_LIMIT:
            limit = int(raw_limit)
        else:
            errors.add("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    before = None
    if "cursor" in values:
        try:
            before = decode_cursor(values["cursor"])
        except ValueError:
            errors.add("cursor", "is not a cursor returned by this API")
    since_us, until_us = moment("since"), moment("until")
    if since_us is not None and until_us is not None and since_us > until_us:
        errors.add("since", "must not be later than until")
    query = EventQuery(
        source=text("source"), action=text("action"), since_us=since_us, until_us=until_us, before=before, limit=limit
    )
    errors.raise_if_any()
    return query


def error_body(kind: str, message: str, details: list[dict[str, str]] | None = None, total: int | None = None) -> bytes:
    """The JSON error document every non-2xx answer uses."""
    document: dict[str, Any] = {"error": kind, "message": message}
    if details is not None:
        document["details"] = details
        if total is not None and total > len(details):
            document["details_truncated"] = total - len(details)
    return orjson.dumps(document)
