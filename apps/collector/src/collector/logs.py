"""Structured logging: one JSON object per line on stdout.

Use ``log.info("message", extra={"fields": {...}})`` to attach fields; they
are merged into the top level of the line.

At ``info`` every request writes a line, so how lines reach stdout matters: the
handler collects lines and writes them with one ``write`` + ``flush`` per
batch (at most ``FLUSH_SECONDS`` later, or at once when the batch is large or
the caller is not on the event loop) instead of one system call per line.
``logging.shutdown`` at exit and the drain watchdog flush what is pending.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, TextIO

import orjson

from collector.timestamps import format_time

# Loggers of libraries we run inside; routed through the same JSON handler.
_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncpg", "redis")
#: Longest a line waits in the buffer.
FLUSH_SECONDS = 0.05
#: A batch this large is written at once.
FLUSH_CHARS = 64 * 1024


class JsonFormatter(logging.Formatter):
    """Renders a record as a single JSON line (timestamp, level, logger, message, fields)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": format_time(int(record.created * 1_000_000)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class BatchingStreamHandler(logging.StreamHandler[TextIO]):
    """A stream handler that writes lines in batches (see the module docstring)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._lines: list[str] = []
        self._chars = 0
        self._flush_scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        # Called with the handler's lock held (Handler.handle).
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._lines.append(line)
        self._chars += len(line)
        if self._chars >= FLUSH_CHARS:
            self.flush()
            return
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another thread, or no loop yet / any more: nobody would flush later
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created in Handler.__init__
            self._flush_scheduled = False
            if self._lines:
                text = "\n".join(self._lines) + "\n"
                self._lines.clear()
                self._chars = 0
                try:
                    self.stream.write(text)
                except Exception:
                    return  # stdout gone (closed pipe): logging must never take the service down
            super().flush()


def configure_logging(level: str) -> None:
    """Send every log record, ours and the libraries', to stdout as JSON at ``level``."""
    # The record attributes our lines never show cost a system call or a frame walk per record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # documented in the logging HOWTO, "Optimization"
    handler = BatchingStreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
        library_logger.setLevel(logging.NOTSET)
    # uvicorn's own access log would duplicate our per-request line.
    logging.getLogger("uvicorn.access").disabled = True
