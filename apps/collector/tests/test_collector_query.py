"""GET /events: ordering, filters and cursor pagination, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

from collector.timestamps import format_time, now_us

HOUR_US = 3_600_000_000


def row(time_us: int, source: str = "web", action: str = "click", attributes: str = "{}") -> tuple:
    return (str(uuid.uuid4()), time_us, source, action, attributes)


async def page_through(client, query: str, limit: int, cursor: str | None = None) -> list[dict]:
    """Every event of ``query`` (from ``cursor`` on), following next_cursor page by page."""
    events: list[dict] = []
    for _ in range(1000):
        url = f"/events?limit={limit}" + (f"&{query}" if query else "") + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["events"]) <= limit
        events.extend(body["events"])
        cursor = body["next_cursor"]
        if cursor is None:
            return events
    raise AssertionError("pagination did not end")


async def test_events_come_back_newest_first_with_server_stamped_time_and_id(start_app, backend_settings):
    """If this fails, clients see events out of order or without the server's time and id."""
    async with start_app(backend_settings) as (_app, client):
        ids = []
        for index in range(5):
            response = await client.post(
                "/events", json={"source": "web", "action": f"a{index}", "attributes": {"n": index}}
            )
            assert response.status_code == 201
            ids.extend(response.json()["ids"])
        body = (await client.get("/events")).json()
        assert [event["id"] for event in body["events"]] == ids[::-1]
        assert [event["attributes"] for event in body["events"]] == [{"n": n} for n in range(4, -1, -1)]
        times = [event["time"] for event in body["events"]]
        assert times == sorted(times, reverse=True)
        assert all(time.endswith("Z") and "T" in time for time in times)
        assert body["next_cursor"] is None


async def test_a_batch_is_stored_in_request_order_and_returns_its_ids(start_app, backend_settings):
    """If this fails, the ids in a 201 do not match the events that were stored."""
    async with start_app(backend_settings) as (_app, client):
        batch = [{"source": "batch", "action": str(index)} for index in range(20)]
        ids = (await client.post("/events", json=batch)).json()["ids"]
        assert len(ids) == len(set(ids)) == 20
        events = (await client.get("/events?limit=20")).json()["events"]
        assert [(event["id"], event["action"]) for event in events] == [(ids[i], str(i)) for i in range(19, -1, -1)]


async def test_source_and_action_filters_return_only_matching_events(start_app, backend_settings):
    """If this fails, the source / action filters leak other teams' events or miss some."""
    async with start_app(backend_settings) as (app, client):
        now = now_us()
        rows = [row(now - i, source=("web", "api")[i % 2], action=("click", "view", "buy")[i % 3]) for i in range(30)]
        await app.state.services.store.insert(rows)
        for query, expected in [
            ("source=web", [r for r in rows if r[2] == "web"]),
            ("action=buy", [r for r in rows if r[3] == "buy"]),
            ("source=api&action=view", [r for r in rows if r[2] == "api" and r[3] == "view"]),
            ("source=nobody", []),
        ]:
            events = (await client.get(f"/events?{query}&limit=100")).json()["events"]
            assert [event["id"] for event in events] == [r[0] for r in expected], query


async def test_since_is_inclusive_and_until_is_exclusive(start_app, backend_settings):
    """If this fails, time windows drop or duplicate the events on their edges."""
    async with start_app(backend_settings) as (app, client):
        base = (now_us() // 1_000_000) * 1_000_000 - 10 * HOUR_US
        rows = [row(base + hour * HOUR_US, action=f"h{hour}") for hour in range(10)]
        await app.state.services.store.insert(rows)
        since, until = format_time(base + 2 * HOUR_US), format_time(base + 5 * HOUR_US)
        events = (await client.get(f"/events?since={since}&until={until}")).json()["events"]
        assert [event["action"] for event in events] == ["h4", "h3", "h2"]
        offset_form = format_time(base + 8 * HOUR_US).replace("Z", "+00:00")
        later = (await client.get("/events", params={"since": offset_form})).json()["events"]
        assert [event["action"] for event in later] == ["h9", "h8"]


async def test_cursor_pagination_visits_every_event_exactly_once(start_app, backend_settings):
    """If this fails, paging through events skips or repeats some (including ties on the same time)."""
    async with start_app(backend_settings) as (app, client):
        now = now_us()
        # Groups of three share a timestamp, so the id tiebreak is exercised.
        rows = [row(now - (i // 3) * 1000, source=("a", "b")[i % 2]) for i in range(47)]
        await app.state.services.store.insert(rows)
        expected = sorted(rows, key=lambda r: (r[1], r[0]), reverse=True)
        events = await page_through(client, "", limit=10)
        assert [event["id"] for event in events] == [r[0] for r in expected]
        filtered = await page_through(client, "source=a", limit=7)
        assert [event["id"] for event in filtered] == [r[0] for r in expected if r[2] == "a"]


async def test_new_events_do_not_shift_pages_already_being_read(start_app, backend_settings):
    """If this fails, events written while a client pages produce duplicates or gaps (offset-style paging)."""
    async with start_app(backend_settings) as (_app, client):
        first_ids = (await client.post("/events", json=[{"source": "s", "action": str(i)} for i in range(10)])).json()[
            "ids"
        ]
        first = (await client.get("/events?limit=4")).json()
        await client.post("/events", json=[{"source": "s", "action": "late"}] * 5)
        rest = await page_through(client, "", limit=4, cursor=first["next_cursor"])
        seen = [event["id"] for event in first["events"]] + [event["id"] for event in rest]
        assert seen == first_ids[::-1]


async def test_limit_defaults_to_100_and_accepts_1000(start_app, backend_settings):
    """If this fails, the documented default page size or maximum is wrong."""
    async with start_app(backend_settings) as (app, client):
        now = now_us()
        await app.state.services.store.insert([row(now - i) for i in range(1005)])
        default_page = (await client.get("/events")).json()
        assert len(default_page["events"]) == 100
        assert default_page["next_cursor"] is not None
        full_page = (await client.get("/events?limit=1000")).json()
        assert len(full_page["events"]) == 1000
        last = (await client.get(f"/events?limit=1000&cursor={full_page['next_cursor']}")).json()
        assert len(last["events"]) == 5
        assert last["next_cursor"] is None


async def test_unicode_and_nested_attributes_round_trip_exactly(start_app, backend_settings):
    """If this fails, stored events come back altered (encoding, nesting, key order)."""
    async with start_app(backend_settings) as (_app, client):
        attributes = {"zeta": 1, "alpha": {"list": [1, 2.5, None, True], "text": "naïve ☃ 😀"}, "nul": "a\u0000b"}
        await client.post("/events", json={"source": "日本", "action": "ação", "attributes": attributes})
        event = (await client.get("/events", params={"source": "日本"})).json()["events"][0]
        assert event["action"] == "ação"
        assert event["attributes"] == attributes
        assert list(event["attributes"]) == ["zeta", "alpha", "nul"]
