"""The app factory: routes, middleware and the lifespan that owns every client.

Importable contract for the platform (its tests read these instead of copying them):
``LIVENESS_PATH``, ``READINESS_PATH``, ``METRICS_PATH``, ``EVENTS_PATH``,
``OPENAPI_PATH``, ``DEFAULT_PORT`` and :func:`create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from collector.cache import RecentEventsCache
from collector.health import DatabaseMonitor
from collector.ingest import CollectorApp, EventIngest
from collector.middleware import RequestObserver
from collector.retention import Retention
from collector.routes import Handlers
from collector.services import Services
from collector.settings import Settings, describe
from collector.storage import StoreUnavailable, create_store
from collector.writer import GroupCommitWriter

log = logging.getLogger("collector")

EVENTS_PATH = "/events"
LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
METRICS_PATH = "/metrics"
OPENAPI_PATH = "/openapi.json"
DEFAULT_PORT: int = Settings.model_fields["port"].default
DEFAULT_DRAIN_SECONDS: float = Settings.model_fields["drain_seconds"].default


def create_app(settings: Settings | None = None) -> Starlette:
    """A Starlette app for ``settings`` (default: from environment / config file).

    Nothing connects until the lifespan starts; the lifespan owns the database
    pool, the Redis client, the group-commit writer and the background tasks.
    """
    settings = settings if settings is not None else Settings()
    services = Services.from_settings(settings)
    handlers = Handlers(services)
    ingest = EventIngest(services)
    routes = [
        Route(EVENTS_PATH, ingest, methods=["POST"], name="post_events"),
        Route(EVENTS_PATH, handlers.get_events, methods=["GET"], name="get_events"),
        Route(LIVENESS_PATH, handlers.healthz, methods=["GET"], name="healthz"),
        Route(READINESS_PATH, handlers.readyz, methods=["GET"], name="readyz"),
        Route(METRICS_PATH, handlers.metrics, methods=["GET"], name="metrics"),
        Route(OPENAPI_PATH, handlers.openapi, methods=["GET"], name="openapi"),
    ]
    known_paths = frozenset(route.path for route in routes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await _start(services)
        try:
            yield
        finally:
            await _stop(services)

    app = CollectorApp(
        ingest_path=EVENTS_PATH,
        fast_ingest=RequestObserver(ingest, services=services, known_paths=known_paths),
        routes=routes,
        middleware=[Middleware(RequestObserver, services=services, known_paths=known_paths)],
        exception_handlers={HTTPException: handlers.http_error},
        lifespan=lifespan,
    )
    app.state.services = services
    return app


async def _start(services: Services) -> None:
    settings = services.settings
    log.info("starting", extra={"fields": {"settings": describe(settings)}})
    store = create_store(settings)
    opened = True
    try:
        await store.open()
    except StoreUnavailable as exc:
        if store.backend == "sqlite":
            # Nothing to wait for: an unusable local file will not fix itself.
            log.error(
                "cannot open the SQLite database", extra={"fields": {"path": settings.sqlite_path, "error": str(exc)}}
            )
            raise
        # PostgreSQL may just be starting too: serve liveness, report not-ready, keep trying.
        opened = False
        log.error("database unavailable at start; will keep retrying", extra={"fields": {"error": str(exc)}})
    cache = None
    if settings.redis_url:
        cache = RecentEventsCache(
            settings.redis_url,
            window=settings.cache_window,
            timeout=settings.redis_timeout_seconds,
            key_prefix=settings.redis_key_prefix,
            metrics=services.metrics,
        )
    writer = GroupCommitWriter(
        store,
        services.metrics,
        # SQLite has one writer connection; more workers would only queue behind it.
        concurrency=settings.writer_concurrency if store.backend == "postgres" else 1,
        max_events_per_commit=settings.max_events_per_commit,
        max_pending_events=settings.max_pending_events,
        after_commit=cache.add if cache is not None else None,
    )
    writer.start()
    monitor = DatabaseMonitor(store, services.metrics, opened=opened, timeout=settings.db_timeout_seconds)
    retention = Retention(
        store,
        services.metrics,
        retention_days=settings.retention_days,
        interval_seconds=settings.retention_interval_seconds,
        batch_size=settings.retention_batch_size,
        cache=cache,
    )
    services.store, services.writer, services.cache = store, writer, cache
    services.retention = retention
    services.background = [
        asyncio.create_task(monitor.run_forever(), name="database-monitor"),
        asyncio.create_task(retention.run_forever(), name="retention"),
    ]
    services.metrics.ready.set(1 if opened else 0)
    log.info("started", extra={"fields": {"backend": store.backend, "cache": cache is not None}})


async def _stop(services: Services) -> None:
    """Commit what is buffered, then release every client (runs after in-flight requests finished)."""
    services.lifecycle.begin_drain()
    for task in services.background:
        task.cancel()
    await asyncio.gather(*services.background, return_exceptions=True)
    if services.writer is not None:
        pending = services.writer.pending_events
        await services.writer.close()
        log.info("writer drained", extra={"fields": {"events_pending_at_shutdown": pending}})
    if services.cache is not None:
        await services.cache.close()
    if services.store is not None:
        await services.store.close()
    log.info("stopped")
