"""HTTP handlers: the events API, health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import copy
import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from collector.cache import cursor_position
from collector.health import READY_PROBE_TIMEOUT_SECONDS
from collector.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from collector.openapi import OPENAPI_DOCUMENT
from collector.services import Services
from collector.settings import Settings
from collector.storage.base import EventRow, StoreUnavailable
from collector.timestamps import format_time
from collector.validation import InvalidInput, encode_cursor, error_body, parse_query

log = logging.getLogger("collector.api")

JSON = "application/json"
_RETRY_LATER = {"Retry-After": "1"}
_HEALTHY = orjson.dumps({"status": "ok"})


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The static OpenAPI document with this instance's configured limits filled in."""
    document = copy.deepcopy(OPENAPI_DOCUMENT)
    new_event = document["components"]["schemas"]["NewEvent"]["properties"]
    for name in ("source", "action"):
        new_event[name]["maxLength"] = settings.max_field_length
    body = document["paths"]["/events"]["post"]["requestBody"]["content"][JSON]["schema"]["oneOf"][1]
    body["maxItems"] = settings.max_batch_size
    # Auth on: the bearer token is required; off: no security requirement at all.
    document["paths"]["/events"]["post"]["security"] = [{"bearer": []}] if settings.auth_tokens else [{}]
    return document


class Handlers:
    """Endpoints bound to one app's :class:`Services`."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._openapi = orjson.dumps(openapi_document(services.settings))

    # -- helpers -----------------------------------------------------------

    def error(
        self,
        status: int,
        kind: str,
        message: str,
        details: list[dict[str, str]] | None = None,
        total: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """An error answer in the common JSON shape; counted in ``collector_errors_total{kind}``."""
        self.services.metrics.count_error(kind)
        return Response(error_body(kind, message, details, total), status_code=status, headers=headers, media_type=JSON)

    # -- events (POST /events is collector.ingest.EventIngest) ---------------

    async def get_events(self, request: Request) -> Response:
        services = self.services
        try:
            query = parse_query(request.query_params.multi_items(), services.settings.max_field_length)
        except InvalidInput as exc:
            return self.error(422, "validation", "invalid query parameter(s)", exc.errors, exc.total)
        store = services.store
        if store is None:
            return self.error(503, "unavailable", "service is starting", headers=_RETRY_LATER)
        cache = services.cache
        if cache is not None and query.is_recent_window:
            cached = await cache.recent(query.limit, store)
            if cached is not None:
                return self._page_from_cache(cached, query.limit)
        try:
            rows = await store.query(query, query.limit + 1)
        except StoreUnavailable:
            return self.error(503, "unavailable", "database unavailable", headers=_RETRY_LATER)
        return self._page_from_rows(rows, query.limit)

    @staticmethod
    def _page_from_rows(rows: list[EventRow], limit: int) -> Response:
        page = rows[:limit]
        events = [
            {
                "id": event_id,
                "time": format_time(time_us),
                "source": source,
                "action": action,
                "attributes": orjson.Fragment(attributes),
            }
            for event_id, time_us, source, action, attributes in page
        ]
        next_cursor = encode_cursor(page[-1][1], page[-1][0]) if len(rows) > limit else None
        return Response(orjson.dumps({"events": events, "next_cursor": next_cursor}), media_type=JSON)

    @staticmethod
    def _page_from_cache(items: list[tuple[bytes, float]], limit: int) -> Response:
        page = items[:limit]
        next_cursor = None
        if len(items) > limit:
            next_cursor = encode_cursor(*cursor_position(*page[-1]))
        body = b'{"events":[' + b",".join(document for document, _ in page) + b'],"next_cursor":'
        return Response(body + orjson.dumps(next_cursor) + b"}", media_type=JSON)

    # -- operations --------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        """Liveness: answering at all proves the process and its event loop work."""
        return Response(_HEALTHY, media_type=JSON)

    async def readyz(self, request: Request) -> Response:
        services = self.services
        if services.lifecycle.draining:
            return Response(orjson.dumps({"status": "draining"}), status_code=503, media_type=JSON)
        store = services.store
        if store is None:
            return Response(orjson.dumps({"status": "starting"}), status_code=503, media_type=JSON)
        try:
            await store.ping(min(READY_PROBE_TIMEOUT_SECONDS, services.settings.db_timeout_seconds))
        except StoreUnavailable:
            services.metrics.ready.set(0)
            return Response(orjson.dumps({"status": "database unavailable"}), status_code=503, media_type=JSON)
        if services.lifecycle.draining:  # SIGTERM may have arrived during the ping
            return Response(orjson.dumps({"status": "draining"}), status_code=503, media_type=JSON)
        services.metrics.ready.set(1)
        return Response(orjson.dumps({"status": "ready", "backend": store.backend}), media_type=JSON)

    async def metrics(self, request: Request) -> Response:
        services = self.services
        if services.writer is not None:
            services.metrics.pending_events.set(services.writer.pending_events)
        return Response(services.metrics.render(), media_type=METRICS_CONTENT_TYPE)

    async def openapi(self, request: Request) -> Response:
        return Response(self._openapi, media_type=JSON)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """404 / 405 and other routing errors in the common JSON shape."""
        assert isinstance(exc, HTTPException)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return self.error(exc.status_code, kind, str(exc.detail), headers=dict(exc.headers or {}) or None)
