"""``POST /events`` as a raw ASGI endpoint: the hot path, kept free of framework layers.

Profiled under single-event load (see the README), Starlette's per-request layers (error and
exception middleware, route matching, ``Request``/``Response`` objects) cost more CPU than the
handler itself. This endpoint reads the three headers it needs straight from the ASGI scope,
collects the body from ``receive`` and answers with two ``send`` calls; :class:`CollectorApp`
routes ``POST /events`` to it directly (still through :class:`~collector.middleware.RequestObserver`
for metrics, the access log, the drain header and the last-resort 500). The answers are the same
as before, byte for byte: statuses, the JSON error shape, ``WWW-Authenticate`` and ``Retry-After``.
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from collector.middleware import RequestObserver
from collector.services import Services
from collector.storage.base import StoreUnavailable
from collector.validation import InvalidInput, MalformedJson, error_body, parse_events
from collector.writer import Overloaded, WriterClosed

_JSON = b"application/json"
_RETRY_LATER = ((b"retry-after", b"1"),)
_CHALLENGE = ((b"www-authenticate", b'Bearer realm="collector"'),)


def is_json_content_type(header: str | None) -> bool:
    """True for ``application/json`` and ``application/*+json``, in UTF-8 (or without a charset)."""
    if not header:
        return False
    media_type, _, parameters = header.partition(";")
    media_type = media_type.strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return False
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False  # JSON is UTF-8 (RFC 8259); we do not transcode
    return True


class EventIngest:
    """The ``POST /events`` endpoint of one app's :class:`Services`."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._too_large = f"body exceeds {services.settings.max_body_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = self.services
        settings = services.settings
        authorization = content_type = content_length = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"authorization":
                authorization = value
            elif name == b"content-length":
                content_length = value
        if services.auth_tokens and not self._authorized(authorization):
            await self._error(send, 401, "unauthorized", "a valid bearer token is required", headers=_CHALLENGE)
            return
        if content_type != _JSON and not is_json_content_type(
            content_type.decode("latin-1") if content_type is not None else None
        ):
            await self._error(send, 415, "unsupported_media_type", "Content-Type must be application/json (UTF-8)")
            return
        limit = settings.max_body_bytes
        if content_length is not None and content_length.isdigit() and int(content_length) > limit:
            await self._error(send, 413, "too_large", self._too_large)
            return
        body = await _read_body(receive, limit)
        if body is None:
            await self._error(send, 413, "too_large", self._too_large)
            return
        try:
            events = parse_events(body, services.limits)
        except MalformedJson as exc:
            await self._error(send, 400, "bad_json", f"body is not valid JSON: {exc}")
            return
        except InvalidInput as exc:
            await self._error(
                send, 422, "validation", "invalid event(s); nothing was stored", exc.errors, exc.total
            )
            return
        writer = services.writer
        if writer is None:
            await self._error(send, 503, "unavailable", "service is starting", headers=_RETRY_LATER)
            return
        try:
            ids = await writer.submit(events)
        except StoreUnavailable:
            await self._error(
                send, 503, "unavailable", "database unavailable; nothing was stored", headers=_RETRY_LATER
            )
            return
        except Overloaded:
            await self._error(
                send, 503, "overloaded", "too many events waiting for commit; retry later", headers=_RETRY_LATER
            )
            return
        except WriterClosed:
            await self._error(send, 503, "unavailable", "shutting down; nothing was stored", headers=_RETRY_LATER)
            return
        services.metrics.request_events.observe(len(ids))
        await _respond(send, 201, orjson.dumps({"ids": ids}))

    def _authorized(self, header: bytes | None) -> bool:
        if not header:
            return False
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            return False
        presented = token.strip()
        # Compare against every token (no early exit) in constant time per token.
        matched = False
        for expected in self.services.auth_tokens:
            matched |= hmac.compare_digest(presented, expected)
        return matched

    async def _error(
        self,
        send: Send,
        status: int,
        kind: str,
        message: str,
        details: list[dict[str, str]] | None = None,
        total: int | None = None,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        self.services.metrics.count_error(kind)
        await _respond(send, status, error_body(kind, message, details, total), headers)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it exceeds ``limit`` bytes."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body if len(body) <= limit else None
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""  # the client left; there is nobody to answer
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", _JSON), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class CollectorApp(Starlette):
    """Starlette, with ``POST /events`` sent straight to :class:`EventIngest` (observed, not routed)."""

    def __init__(self, *, ingest_path: str, fast_ingest: RequestObserver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ingest_path = ingest_path
        self._fast_ingest = fast_ingest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self._ingest_path:
            await self._fast_ingest(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
