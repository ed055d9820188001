"""Bad input on POST /events and GET /events: the right 4xx, the bad field named, never a 500, nothing stored."""

from __future__ import annotations

import orjson
import pytest

JSON = {"content-type": "application/json"}


def fields_of(response) -> list[str]:
    return [detail["field"] for detail in response.json()["details"]]


async def stored_count(app) -> int:
    return await app.state.services.store.count()


@pytest.mark.parametrize(
    ("event", "field", "message_part"),
    [
        ({"action": "login"}, "source", "required"),
        ({"source": "web"}, "action", "required"),
        ({"source": "", "action": "login"}, "source", "empty"),
        ({"source": "web", "action": "   "}, "action", "empty"),
        ({"source": 42, "action": "login"}, "source", "string"),
        ({"source": "web", "action": ["login"]}, "action", "string"),
        ({"source": None, "action": "login"}, "source", "string"),
        ({"source": "web", "action": "login", "attributes": "x=1"}, "attributes", "object"),
        ({"source": "web", "action": "login", "attributes": [1, 2]}, "attributes", "object"),
        ({"source": "we\u0000b", "action": "login"}, "source", "NUL"),
        ({"source": "web", "action": "login", "time": "2024-01-01T00:00:00Z"}, "time", "server"),
        ({"source": "web", "action": "login", "id": "x"}, "id", "server"),
        ({"source": "web", "action": "login", "colour": "red"}, "colour", "not a known field"),
    ],
)
async def test_a_bad_single_event_is_rejected_with_422_naming_the_field(
    start_app, sqlite_settings, event, field, message_part
):
    """If this fails, clients get no (or the wrong) hint about which field of their event is wrong."""
    async with start_app(sqlite_settings) as (app, client):
        response = await client.post("/events", json=event)
        assert response.status_code == 422
        body = response.json()
        assert body["error"] == "validation"
        assert fields_of(response) == [field]
        assert message_part in body["details"][0]["message"]
        assert await stored_count(app) == 0


async def test_over_long_source_and_action_are_rejected_with_both_fields_named(start_app, make_settings, tmp_path):
    """If this fails, over-long strings reach the database (or only the first bad field is reported)."""
    settings = make_settings(sqlite_path=str(tmp_path / "e.db"), max_field_length=10)
    async with start_app(settings) as (app, client):
        ok = await client.post("/events", json={"source": "s" * 10, "action": "a" * 10})
        assert ok.status_code == 201
        response = await client.post("/events", json={"source": "s" * 11, "action": "a" * 11})
        assert response.status_code == 422
        assert fields_of(response) == ["source", "action"]
        assert "at most 10" in response.json()["details"][0]["message"]
        assert await stored_count(app) == 1


async def test_attributes_larger_than_the_limit_are_rejected(start_app, make_settings, tmp_path):
    """If this fails, one client can store arbitrarily large blobs per event."""
    settings = make_settings(sqlite_path=str(tmp_path / "e.db"), max_attributes_bytes=64)
    async with start_app(settings) as (_app, client):
        response = await client.post("/events", json={"source": "s", "action": "a", "attributes": {"k": "v" * 100}})
        assert response.status_code == 422
        assert fields_of(response) == ["attributes"]


@pytest.mark.parametrize(
    "filler",
    ["v", "\u00e9"],  # one byte per character, and two: the limit counts UTF-8 bytes, not characters
    ids=["ascii", "two-byte-utf8"],
)
async def test_attributes_of_exactly_the_limit_are_stored_and_one_byte_more_are_rejected(
    start_app, make_settings, tmp_path, filler
):
    """If this fails, MAX_ATTRIBUTES_BYTES is off by one, or counts characters where it promises bytes."""
    limit = 64
    settings = make_settings(sqlite_path=str(tmp_path / "e.db"), max_attributes_bytes=limit)
    envelope = len(b'{"k":""}')
    exact = {"k": filler * ((limit - envelope) // len(filler.encode()))}
    over = {"k": exact["k"] + "v"}
    assert len(orjson.dumps(exact)) == limit and len(orjson.dumps(over)) == limit + 1
    async with start_app(settings) as (app, client):
        for body in ({"source": "s", "action": "a", "attributes": exact},
                     [{"source": "s", "action": "a", "attributes": exact}] * 2):
            assert (await client.post("/events", json=body)).status_code == 201
        for body in ({"source": "s", "action": "a", "attributes": over},
                     [{"source": "s", "action": "a", "attributes": exact}, {"source": "s", "action": "a",
                                                                            "attributes": over}]):
            response = await client.post("/events", json=body)
            assert response.status_code == 422
            assert response.json()["details"][0]["message"] == (
                f"is {limit + 1} bytes as JSON; at most {limit} are allowed"
            )
        assert await stored_count(app) == 3


async def test_a_batch_with_one_bad_event_stores_nothing(start_app, backend_settings):
    """If this fails, a rejected batch leaves a partial write behind (on SQLite or PostgreSQL)."""
    async with start_app(backend_settings) as (app, client):
        batch = [{"source": "web", "action": "a"}, {"source": "web", "action": ""}, {"source": "web", "action": "c"}]
        response = await client.post("/events", json=batch)
        assert response.status_code == 422
        assert fields_of(response) == ["[1].action"]
        assert await stored_count(app) == 0


async def test_every_bad_field_of_a_batch_is_named_with_its_index(start_app, sqlite_settings):
    """If this fails, clients must fix a batch one error per round trip."""
    async with start_app(sqlite_settings) as (app, client):
        batch = [
            {"source": "ok", "action": "ok"},
            {"action": 1},
            "not an object",
            {"source": "x", "action": "y", "extra": 1},
        ]
        response = await client.post("/events", json=batch)
        assert response.status_code == 422
        assert fields_of(response) == ["[1].source", "[1].action", "[2]", "[3].extra"]
        assert await stored_count(app) == 0


async def test_an_empty_batch_is_rejected(start_app, sqlite_settings):
    """If this fails, an empty array is acknowledged as if something had been stored."""
    async with start_app(sqlite_settings) as (_app, client):
        response = await client.post("/events", json=[])
        assert response.status_code == 422
        assert fields_of(response) == ["body"]


async def test_a_batch_over_max_batch_size_is_rejected_and_nothing_stored(start_app, make_settings, tmp_path):
    """If this fails, MAX_BATCH_SIZE is not enforced."""
    settings = make_settings(sqlite_path=str(tmp_path / "e.db"), max_batch_size=5)
    async with start_app(settings) as (app, client):
        at_limit = await client.post("/events", json=[{"source": "s", "action": "a"}] * 5)
        assert at_limit.status_code == 201
        assert len(at_limit.json()["ids"]) == 5
        over = await client.post("/events", json=[{"source": "s", "action": "a"}] * 6)
        assert over.status_code == 422
        assert "at most 5" in over.json()["details"][0]["message"]
        assert await stored_count(app) == 5


async def test_a_huge_bad_batch_reports_a_bounded_number_of_errors(start_app, sqlite_settings):
    """If this fails, a garbage batch makes the server echo megabytes of error details."""
    async with start_app(sqlite_settings) as (_app, client):
        response = await client.post("/events", json=[{}] * 1000)
        assert response.status_code == 422
        body = response.json()
        assert len(body["details"]) == 100
        assert body["details_truncated"] == 1900


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"source": "a", "action": "b"',
        b'{"source": "a"} trailing',
        b"\xff\xfe",
        b"NaN",
        b'{"source": "\\ud800", "action": "b"}',
        b"[" * 2000 + b"]" * 2000,
        b"",
    ],
    ids=["open-brace", "truncated", "trailing-garbage", "not-utf8", "nan", "lone-surrogate", "too-deep", "empty"],
)
async def test_malformed_json_is_rejected_with_400(start_app, sqlite_settings, body):
    """If this fails, unparseable bodies produce a 500 or a misleading 422."""
    async with start_app(sqlite_settings) as (_app, client):
        response = await client.post("/events", content=body, headers=JSON)
        assert response.status_code == 400
        assert response.json()["error"] == "bad_json"


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "multipart/form-data",
    ],
)
async def test_a_wrong_content_type_is_rejected_with_415(start_app, sqlite_settings, content_type):
    """If this fails, form posts or non-UTF-8 bodies are parsed as if they were JSON."""
    async with start_app(sqlite_settings) as (app, client):
        headers = {"content-type": content_type} if content_type else {}
        response = await client.post("/events", content=b'{"source": "a", "action": "b"}', headers=headers)
        assert response.status_code == 415
        assert await stored_count(app) == 0


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/cloudevents+json"]
)
async def test_json_content_types_with_parameters_are_accepted(start_app, sqlite_settings, content_type):
    """If this fails, well-behaved clients that send a charset or a +json type are turned away."""
    async with start_app(sqlite_settings) as (_app, client):
        response = await client.post(
            "/events", content=b'{"source": "a", "action": "b"}', headers={"content-type": content_type}
        )
        assert response.status_code == 201


async def test_a_body_over_the_size_limit_is_rejected_with_413(start_app, make_settings, tmp_path):
    """If this fails, clients can make the server buffer unbounded bodies."""
    settings = make_settings(sqlite_path=str(tmp_path / "e.db"), max_body_bytes=2048)
    async with start_app(settings) as (_app, client):
        big = b'{"source": "a", "action": "' + b"x" * 3000 + b'"}'
        response = await client.post("/events", content=big, headers=JSON)
        assert response.status_code == 413
        assert response.json()["error"] == "too_large"


async def test_a_streamed_body_without_length_over_the_limit_is_rejected_with_413(start_app, make_settings, tmp_path):
    """If this fails, chunked uploads bypass the size limit (no Content-Length to check)."""
    settings = make_settings(sqlite_path=str(tmp_path / "e.db"), max_body_bytes=2048)

    async def chunks():
        yield b'{"source": "a", "action": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    async with start_app(settings) as (app, client):
        response = await client.post("/events", content=chunks(), headers=JSON)
        assert response.status_code == 413
        assert await stored_count(app) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"0",
        b"-1e308",
        b'"text"',
        b"true",
        b"[[]]",
        b"[null]",
        b"[1, 2]",
        b'{"source": {}, "action": {}}',
        b'{"source": "a", "action": "b", "attributes": {"n": 18446744073709551616}}',
        b'{"source": "a", "action": "b", "attributes": {"": {"\\u0000": "\\u0000"}}}',
        b'{"source": "\\ud83d\\ude00", "action": "\xf0\x9f\x98\x80"}',
        b'{"source": "a", "action": "b", "attributes": {"deep": ' + b'{"a":' * 500 + b"1" + b"}" * 500 + b"}}",
    ],
)
async def test_odd_bodies_never_produce_a_server_error(start_app, backend_settings, body):
    """If this fails, some input crashes the handler or the database layer (a 500)."""
    async with start_app(backend_settings) as (_app, client):
        response = await client.post("/events", content=body, headers=JSON)
        assert response.status_code in (201, 400, 422), response.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("limit=1.5", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("since=yesterday", "since"),
        ("since=2024-01-01", "since"),
        ("until=2024-01-01T00:00:00", "until"),
        ("until=2024-02-30T00:00:00Z", "until"),
        ("since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z", "since"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=MTIzOmFiYw", "cursor"),
        ("source=", "source"),
        ("source=a&source=b", "source"),
        ("colour=red", "colour"),
    ],
)
async def test_bad_query_values_are_rejected_with_422_naming_the_parameter(start_app, backend_settings, query, field):
    """If this fails, a bad filter silently returns the wrong events or crashes with a 500."""
    async with start_app(backend_settings) as (_app, client):
        response = await client.get(f"/events?{query}")
        assert response.status_code == 422
        assert field in fields_of(response)


async def test_errors_are_counted_by_kind(start_app, sqlite_settings, read_metric):
    """If this fails, operators cannot see bad-input rates in collector_errors_total."""
    async with start_app(sqlite_settings) as (_app, client):
        await client.post("/events", content=b"{", headers=JSON)
        await client.post("/events", json={"source": ""})
        await client.post("/events", content=b"{}", headers={"content-type": "text/plain"})
        assert await read_metric(client, "collector_errors_total", {"kind": "bad_json"}) == 1
        assert await read_metric(client, "collector_errors_total", {"kind": "validation"}) == 1
        assert await read_metric(client, "collector_errors_total", {"kind": "unsupported_media_type"}) == 1
