"""One raw ASGI middleware for every request: metrics, access log, drain header, last-resort 500.

Raw ASGI (not ``BaseHTTPMiddleware``): it wraps ``send`` without spawning
tasks or buffering bodies, which matters at thousands of requests per second.
"""

from __future__ import annotations

import logging
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.services import Services

access_log = logging.getLogger("collector.access")
log = logging.getLogger("collector.api")

_INTERNAL_ERROR = orjson.dumps({"error": "internal", "message": "internal server error"})


class RequestObserver:
    """Measures, logs and guards each HTTP request."""

    def __init__(self, app: ASGIApp, services: Services, known_paths: frozenset[str]) -> None:
        self.app = app
        self.services = services
        # Route label = the path if it is one of ours; anything else shares one
        # label so scanners cannot blow up the metrics' cardinality.
        self.known_paths = known_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        services = self.services
        metrics = services.metrics
        lifecycle = services.lifecycle
        started = time.perf_counter()
        status = 500
        response_started = False

        async def observed_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                if lifecycle.draining:
                    # Tell keep-alive clients to reconnect (to another replica) while we drain.
                    message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
            await send(message)

        metrics.inflight += 1
        try:
            await self.app(scope, receive, observed_send)
        except Exception:
            log.exception("unhandled error", extra={"fields": {"method": scope["method"], "path": scope["path"]}})
            metrics.count_error("internal")
            if response_started:
                raise  # nothing sensible left to send; the server closes the connection
            status = 500
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_INTERNAL_ERROR)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            metrics.inflight -= 1
            elapsed = time.perf_counter() - started
            path = scope["path"]
            route = path if path in self.known_paths else "other"
            metrics.observe_request(scope["method"], route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    "request",
                    extra={
                        "fields": {
                            "method": scope["method"],
                            "path": path,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 3),
                            "client": client[0] if client else None,
                        }
                    },
                )
