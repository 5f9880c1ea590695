from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from nimbus.sessions.models import Session
from nimbus.sessions.service import hash_token
from nimbus.state import AppState
from tests.conftest import new_token


async def test_new_session_returns_opaque_token_and_stores_only_its_hash(client: httpx.AsyncClient, app) -> None:
    response = await client.post("/api/v1/sessions")
    assert response.status_code == 201
    body = response.json()
    token = body["token"]
    assert len(token) >= 43  # 256 bits, url-safe base64
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC) + timedelta(hours=23)
    state: AppState = app.state.nimbus
    async with state.database.transaction() as db:
        stored = (await db.scalars(select(Session))).all()
    assert [s.token_hash for s in stored] == [hash_token(token)]
    assert token not in {s.token_hash for s in stored}


async def test_presenting_a_live_token_returns_the_same_session(client: httpx.AsyncClient) -> None:
    token = await new_token(client)
    again = await client.post("/api/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 201
    assert again.json()["token"] == token


async def test_unknown_token_yields_a_fresh_session(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/sessions", headers={"Authorization": "Bearer not-a-real-token"})
    assert response.status_code == 201
    assert response.json()["token"] != "not-a-real-token"


async def test_expired_token_yields_a_fresh_session_and_is_rejected_elsewhere(client: httpx.AsyncClient, app) -> None:
    token = await new_token(client)
    state: AppState = app.state.nimbus
    async with state.database.transaction() as db:
        past = datetime.now(UTC) - timedelta(minutes=1)
        await db.execute(update(Session).values(expires_at=past))
    headers = {"Authorization": f"Bearer {token}"}
    listed = await client.get("/api/v1/chats", headers=headers)
    assert listed.status_code == 401
    assert "expired" in listed.json()["error"]["message"]
    renewed = await client.post("/api/v1/sessions", headers=headers)
    assert renewed.json()["token"] != token


async def test_endpoints_require_a_token(client: httpx.AsyncClient) -> None:
    for method, path in [("GET", "/api/v1/chats"), ("POST", "/api/v1/chats"), ("GET", "/api/v1/model"),
                         ("GET", "/list"), ("GET", "/v1/models")]:  # fmt: skip
        response = await client.request(method, path, json={})
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"


async def test_cookie_is_accepted_as_the_token(client: httpx.AsyncClient) -> None:
    token = await new_token(client)
    client.cookies.set("nimbus_session", token)
    assert (await client.get("/api/v1/chats")).status_code == 200


async def test_activity_slides_the_expiry(client: httpx.AsyncClient, app) -> None:
    token = await new_token(client)
    state: AppState = app.state.nimbus
    soon = datetime.now(UTC) + timedelta(minutes=5)
    async with state.database.transaction() as db:
        await db.execute(update(Session).values(expires_at=soon, last_seen_at=datetime.now(UTC) - timedelta(hours=1)))
    assert (await client.get("/api/v1/chats", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    async with state.database.transaction() as db:
        session = await db.scalar(select(Session))
    assert session is not None
    assert session.expires_at > datetime.now(UTC) + timedelta(hours=23)
