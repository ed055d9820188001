"""How request logs reach stdout (batched, same lines) and the in-flight gauge's balance."""

from __future__ import annotations

import asyncio
import io
import logging
import threading

import orjson

from collector.logs import FLUSH_SECONDS, BatchingStreamHandler, JsonFormatter


def _logger(stream: io.StringIO) -> tuple[logging.Logger, BatchingStreamHandler]:
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"collector.test.batching.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, handler


async def test_lines_logged_on_the_event_loop_reach_the_stream_together_within_the_flush_delay():
    """If this fails, request lines are lost or delayed indefinitely, or each one costs its own write again."""
    stream = io.StringIO()
    logger, _handler = _logger(stream)
    for index in range(3):
        logger.info("request", extra={"fields": {"n": index}})
    assert stream.getvalue() == ""  # not yet: one write for the batch
    await asyncio.sleep(FLUSH_SECONDS * 4)
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["message"], line["n"], line["level"]) for line in lines] == [("request", n, "info") for n in range(3)]


def test_lines_logged_off_the_event_loop_are_written_at_once():
    """If this fails, a line logged from a thread (the drain watchdog) or before the loop runs may never be written."""
    stream = io.StringIO()
    logger, _handler = _logger(stream)
    thread = threading.Thread(target=logger.error, args=("drain exceeded",))
    thread.start()
    thread.join()
    assert orjson.loads(stream.getvalue())["message"] == "drain exceeded"


async def test_the_inflight_gauge_counts_the_scrape_itself_and_returns_to_it_after_every_kind_of_request(
    start_app, sqlite_settings, read_metric
):
    """If this fails, collector_inflight_requests drifts (a request counted in and never out, or never in)."""
    async with start_app(sqlite_settings) as (_app, client):
        assert await read_metric(client, "collector_inflight_requests") == 1  # the /metrics request itself
        await client.post("/events", json={"source": "s", "action": "a"})
        await client.post("/events", content=b"{", headers={"content-type": "application/json"})
        await client.get("/events")
        await client.get("/nowhere")
        assert await read_metric(client, "collector_inflight_requests") == 1
