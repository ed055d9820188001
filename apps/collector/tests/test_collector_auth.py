"""Optional bearer-token auth for POST /events."""

from __future__ import annotations

import pytest

EVENT = {"source": "web", "action": "login"}


async def test_without_configured_tokens_posts_need_no_authorization(start_app, sqlite_settings):
    """If this fails, the default (auth off) rejects every client."""
    async with start_app(sqlite_settings) as (_app, client):
        assert (await client.post("/events", json=EVENT)).status_code == 201


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", "Basic dG9rZW4tYTo=", "token-a", "Bearer token-a-but-longer"],
)
async def test_with_tokens_configured_a_post_without_a_valid_token_gets_401_and_stores_nothing(
    start_app, make_settings, tmp_path, authorization
):
    """If this fails, anyone can write events although AUTH_TOKENS is set."""
    settings = make_settings(sqlite_path=str(tmp_path / "a.db"), auth_tokens="token-a,token-b")
    async with start_app(settings) as (app, client):
        headers = {"authorization": authorization} if authorization is not None else {}
        response = await client.post("/events", json=EVENT, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"] == "unauthorized"
        assert await app.state.services.store.count() == 0


@pytest.mark.parametrize("token", ["token-a", "token-b"])
async def test_any_configured_token_is_accepted(start_app, make_settings, tmp_path, token):
    """If this fails, rotating tokens (two valid at once) breaks clients still on the old one."""
    settings = make_settings(sqlite_path=str(tmp_path / "a.db"), auth_tokens="token-a,token-b")
    async with start_app(settings) as (_app, client):
        response = await client.post("/events", json=EVENT, headers={"authorization": f"bearer {token}"})
        assert response.status_code == 201


async def test_reads_and_probes_stay_open_when_auth_is_on(start_app, make_settings, tmp_path):
    """If this fails, kubelet probes or Prometheus scrapes fail once auth is enabled."""
    settings = make_settings(sqlite_path=str(tmp_path / "a.db"), auth_tokens="token-a")
    async with start_app(settings) as (_app, client):
        for path in ("/events", "/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path


async def test_auth_is_checked_before_the_body_is_parsed(start_app, make_settings, tmp_path):
    """If this fails, unauthenticated clients learn about validation rules or make the server parse their bodies."""
    settings = make_settings(sqlite_path=str(tmp_path / "a.db"), auth_tokens="token-a")
    async with start_app(settings) as (_app, client):
        response = await client.post("/events", content=b"{not json", headers={"content-type": "application/json"})
        assert response.status_code == 401
