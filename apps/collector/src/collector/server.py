"""Running the app under uvicorn with a drain that loses nothing.

On SIGTERM:

1. at once: readiness answers 503 and every response carries
   ``Connection: close`` (keep-alive clients move to other replicas);
2. for ``SHUTDOWN_DELAY_SECONDS`` the listener stays open, so requests that
   were already on their way are still served rather than refused;
3. then uvicorn stops accepting, lets in-flight requests finish (they wait
   for their group commit), and the lifespan commits whatever is still
   buffered and closes the clients;
4. a watchdog ends the process if all that exceeds ``DRAIN_SECONDS``, so the
   pod always exits within its grace period. Nothing acknowledged is lost
   even then: a 201 is only sent after COMMIT.

SIGINT (Ctrl-C) skips step 2; a second SIGINT stops waiting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Generator
from types import FrameType

import uvicorn

from collector.app import create_app
from collector.services import Lifecycle, Services
from collector.settings import Settings
from collector.transport import CoalescingHttpToolsProtocol

log = logging.getLogger("collector.server")

#: Part of DRAIN_SECONDS kept for committing buffered writes and closing clients.
_FLUSH_RESERVE_SECONDS = 2.0
#: Exit status when the drain watchdog had to end the process.
DRAIN_TIMEOUT_EXIT_CODE = 70


class DrainingServer(uvicorn.Server):
    """uvicorn server whose signal handling follows the drain described above."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, settings: Settings) -> None:
        super().__init__(config)
        self._lifecycle = lifecycle
        self._settings = settings
        self._signal: int | None = None
        self._close_listener_at: float | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Unlike uvicorn's own, this does not re-raise the signal after shutdown:
        # a completed drain is a clean exit (status 0).
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        # Runs between two bytecodes of whatever the loop was doing: only plain
        # assignments here (no logging, no metrics, no locks); on_tick does the rest.
        if self._signal is not None:
            if sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True
            return
        self._signal = sig
        self._lifecycle.draining = True

    async def on_tick(self, counter: int) -> bool:
        if self._signal is not None and self._close_listener_at is None:
            self._start_drain(self._signal)
        if self._close_listener_at is not None and time.monotonic() >= self._close_listener_at:
            self.should_exit = True
        return await super().on_tick(counter)

    def _start_drain(self, sig: int) -> None:
        self._lifecycle.begin_drain()
        delay = self._settings.shutdown_delay_seconds if sig == signal.SIGTERM else 0.0
        self._close_listener_at = time.monotonic() + delay
        watchdog = threading.Timer(self._settings.drain_seconds, _drain_timed_out, args=(self._settings.drain_seconds,))
        watchdog.daemon = True
        watchdog.start()
        log.info(
            "drain started",
            extra={
                "fields": {
                    "signal": signal.Signals(sig).name,
                    "listener_closes_in_s": delay,
                    "drain_seconds": self._settings.drain_seconds,
                }
            },
        )


def _drain_timed_out(limit: float) -> None:
    log.error("drain exceeded DRAIN_SECONDS; exiting now", extra={"fields": {"drain_seconds": limit}})
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(DRAIN_TIMEOUT_EXIT_CODE)


def build_server(settings: Settings) -> DrainingServer:
    """A ready-to-run server for ``settings`` (one process, one event loop)."""
    app = create_app(settings)
    services: Services = app.state.services
    graceful = max(1.0, settings.drain_seconds - settings.shutdown_delay_seconds - _FLUSH_RESERVE_SECONDS)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http=CoalescingHttpToolsProtocol,  # httptools, one socket write per response
        ws="none",
        lifespan="on",
        log_config=None,  # logging is configured by collector.logs (JSON)
        access_log=False,  # our middleware writes one line per request
        proxy_headers=False,
        server_header=False,
        backlog=2048,
        timeout_graceful_shutdown=graceful,  # type: ignore[arg-type]  # float works; hint says int
    )
    return DrainingServer(config, services.lifecycle, settings)


def serve(settings: Settings) -> int:
    """Run until drained; the process exit status."""
    server = build_server(settings)
    server.run()
    if not server.started:
        return 3  # startup failed (logged already), like uvicorn's own STARTUP_FAILURE
    return 0
