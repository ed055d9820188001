"""The contract other parts of the project rely on: paths, port, OpenAPI, metrics, logs, group commit."""

from __future__ import annotations

import asyncio
import io
import logging

import orjson
import pytest
from starlette.routing import Route

from collector import app as app_module
from collector.app import (
    EVENTS_PATH,
    LIVENESS_PATH,
    METRICS_PATH,
    OPENAPI_PATH,
    READINESS_PATH,
    create_app,
)
from collector.ids import IdGenerator
from collector.logs import JsonFormatter
from collector.metrics import Metrics
from collector.settings import Settings
from collector.storage.base import StoreUnavailable
from collector.validation import decode_cursor, encode_cursor
from collector.writer import GroupCommitWriter, Overloaded


def test_the_probe_and_metrics_paths_and_default_port_are_importable_and_routed():
    """If this fails, the Kubernetes probes / scrape config built from these constants point at nothing."""
    assert (LIVENESS_PATH, READINESS_PATH, METRICS_PATH) == ("/healthz", "/readyz", "/metrics")
    assert app_module.DEFAULT_PORT == Settings.model_fields["port"].default == 8080
    assert Settings.model_fields["drain_seconds"].default == app_module.DEFAULT_DRAIN_SECONDS == 20
    paths = {route.path for route in create_app(Settings()).routes}
    assert {LIVENESS_PATH, READINESS_PATH, METRICS_PATH, EVENTS_PATH, OPENAPI_PATH} <= paths


async def test_the_openapi_document_describes_exactly_the_routes_served(start_app, sqlite_settings):
    """If this fails, the published API description and the real routes disagree."""
    async with start_app(sqlite_settings) as (app, client):
        document = (await client.get(OPENAPI_PATH)).json()
        assert document["openapi"].startswith("3.")
        served = {
            (route.path, method.lower())
            for route in app.routes
            if isinstance(route, Route)
            for method in route.methods or ()
            if method != "HEAD"
        }
        described = {(path, method) for path, item in document["paths"].items() for method in item}
        assert served == described
        batch = document["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert batch["oneOf"][1]["maxItems"] == sqlite_settings.max_batch_size


async def test_liveness_and_readiness_answer_and_readiness_turns_false_when_draining(start_app, sqlite_settings):
    """If this fails, Kubernetes keeps routing traffic to a pod that is shutting down (or kills a healthy one)."""
    async with start_app(sqlite_settings) as (app, client):
        assert (await client.get(LIVENESS_PATH)).status_code == 200
        ready = await client.get(READINESS_PATH)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        app.state.services.lifecycle.begin_drain()
        not_ready = await client.get(READINESS_PATH)
        assert not_ready.status_code == 503 and not_ready.json()["status"] == "draining"
        assert (await client.get(LIVENESS_PATH)).status_code == 200
        during_drain = await client.post("/events", json={"source": "s", "action": "a"})
        assert during_drain.status_code == 201  # still served while draining...
        assert during_drain.headers["connection"] == "close"  # ...but keep-alive clients are told to leave


async def test_metrics_expose_the_story_names_and_process_memory(start_app, sqlite_settings, read_metric):
    """If this fails, dashboards and alerts built on the story's metric names go blank."""
    async with start_app(sqlite_settings) as (_app, client):
        await client.post("/events", json=[{"source": "billing", "action": "a"}, {"source": "billing", "action": "b"}])
        await client.post("/events", json={"source": "web", "action": "a"})
        await client.post("/events", json={"source": ""})
        text = (await client.get(METRICS_PATH)).text
        assert await read_metric(client, "collector_events_total", {"source": "billing"}) == 2
        assert await read_metric(client, "collector_events_total", {"source": "web"}) == 1
        assert await read_metric(client, "collector_errors_total", {"kind": "validation"}) == 1
        assert 'collector_request_duration_seconds_bucket{le="0.005",method="POST",route="/events"}' in text
        assert await read_metric(client, "process_resident_memory_bytes") > 0
        for name in (
            "collector_commit_events_bucket",
            "collector_request_events_bucket",
            "collector_pending_events",
            "collector_events_expired_total",
            "collector_ready",
            "collector_draining",
        ):
            assert name in text, name


async def test_event_source_labels_are_capped_so_metrics_memory_stays_bounded(
    start_app, make_settings, tmp_path, read_metric
):
    """If this fails, clients inventing sources grow the metrics (and memory) without limit."""
    settings = make_settings(sqlite_path=str(tmp_path / "m.db"), metrics_max_sources=3)
    async with start_app(settings) as (_app, client):
        await client.post("/events", json=[{"source": f"s{index}", "action": "a"} for index in range(10)])
        text = (await client.get(METRICS_PATH)).text
        labelled = [line for line in text.splitlines() if line.startswith("collector_events_total{")]
        assert len(labelled) == 4
        assert await read_metric(client, "collector_events_total", {"source": "_other"}) == 7


async def test_unknown_paths_get_json_404_and_share_one_metrics_label(start_app, sqlite_settings):
    """If this fails, scanners hitting random URLs create unbounded metric series."""
    async with start_app(sqlite_settings) as (_app, client):
        for index in range(5):
            response = await client.get(f"/wp-admin/{index}")
            assert response.status_code == 404 and response.json()["error"] == "not_found"
        text = (await client.get(METRICS_PATH)).text
        assert 'route="other"' in text and "wp-admin" not in text


async def test_each_request_writes_one_json_log_line(start_app, make_settings, tmp_path):
    """If this fails, request logs are not machine-readable JSON lines (or are missing)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("collector.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        async with start_app(make_settings(sqlite_path=str(tmp_path / "l.db"))) as (_app, client):
            await client.post("/events", json={"source": "s", "action": "a"})
            await client.get("/events?limit=1")
    finally:
        access.removeHandler(handler)
        access.setLevel(logging.NOTSET)
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", "/events", 201),
        ("GET", "/events", 200),
    ]
    assert all(line["level"] == "info" and line["message"] == "request" and line["duration_ms"] >= 0 for line in lines)


async def test_concurrent_posts_share_group_commits(start_app, sqlite_settings, read_metric):
    """If this fails, every POST pays its own commit (fsync) and throughput collapses under many small writes."""
    async with start_app(sqlite_settings) as (app, client):
        responses = await asyncio.gather(
            *(client.post("/events", json={"source": "g", "action": str(index)}) for index in range(60))
        )
        assert all(response.status_code == 201 for response in responses)
        commits = await read_metric(client, "collector_commit_events_count")
        assert await app.state.services.store.count() == 60
        assert commits <= 30


class _BlockingStore:
    """A store whose inserts wait for a signal (or fail on demand): drives the writer deterministically."""

    backend = "fake"

    def __init__(self) -> None:
        self.available = True
        self.release = asyncio.Event()
        self.inserted: list[list[tuple]] = []
        self.poison = "poison"

    async def insert(self, rows):
        await self.release.wait()
        if any(row[3] == self.poison for row in rows):
            raise ValueError("unstorable row")
        self.inserted.append(list(rows))


async def test_the_write_queue_is_bounded_and_overflows_with_overloaded():
    """If this fails, a slow database lets queued events grow memory without limit."""
    store = _BlockingStore()
    writer = GroupCommitWriter(store, Metrics(), max_pending_events=10, max_events_per_commit=100)
    writer.start()
    first = asyncio.create_task(writer.submit([("s", "a", "{}")] * 8))
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await writer.submit([("s", "a", "{}")] * 3)
    store.release.set()
    assert len(await first) == 8
    await writer.close()


async def test_one_unstorable_request_does_not_fail_the_others_in_its_group():
    """If this fails, one bad request makes its innocent neighbours in the same group commit fail."""
    store = _BlockingStore()
    writer = GroupCommitWriter(store, Metrics())
    writer.start()
    good = [asyncio.create_task(writer.submit([("s", f"ok{i}", "{}")])) for i in range(3)]
    bad = asyncio.create_task(writer.submit([("s", "poison", "{}")]))
    await asyncio.sleep(0)
    store.release.set()
    assert [len(ids) for ids in await asyncio.gather(*good)] == [1, 1, 1]
    with pytest.raises(ValueError):
        await bad
    await writer.close()


async def test_writes_fail_fast_while_the_store_is_known_to_be_down():
    """If this fails, POSTs queue up (and hang) while the database is down instead of answering 503."""
    store = _BlockingStore()
    store.available = False
    writer = GroupCommitWriter(store, Metrics())
    writer.start()
    with pytest.raises(StoreUnavailable):
        await writer.submit([("s", "a", "{}")])
    await writer.close()


async def test_closing_the_writer_commits_everything_already_accepted():
    """If this fails, events accepted just before shutdown are dropped instead of committed."""
    store = _BlockingStore()
    writer = GroupCommitWriter(store, Metrics())
    writer.start()
    pending = [asyncio.create_task(writer.submit([("s", str(i), "{}")])) for i in range(5)]
    await asyncio.sleep(0)
    closing = asyncio.create_task(writer.close())
    await asyncio.sleep(0)
    store.release.set()
    await closing
    assert sum(len(batch) for batch in store.inserted) == 5
    assert all(task.done() and len(task.result()) == 1 for task in pending)


def test_ids_are_uuid7_strictly_increasing_and_cursors_round_trip():
    """If this fails, ids collide, sort wrongly, or cursors cannot be decoded."""
    generator = IdGenerator()
    ids = generator.new_ids(5000, 1_700_000_000_000_000) + generator.new_ids(3, 1_700_000_000_000_000)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(event_id[14] == "7" and event_id[19] in "89ab" for event_id in ids)
    assert decode_cursor(encode_cursor(1_700_000_000_123_456, ids[0])) == (1_700_000_000_123_456, ids[0])
