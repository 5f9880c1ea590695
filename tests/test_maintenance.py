from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from nimbus import maintenance
from nimbus.chat.models import Chat, Message
from nimbus.sessions.models import Session
from nimbus.state import AppState
from tests.helpers import ask, new_chat


async def _count(state: AppState, model: type[Session] | type[Chat] | type[Message]) -> int:
    async with state.database.transaction() as db:
        return await db.scalar(select(func.count()).select_from(model)) or 0


async def test_cleanup_deletes_expired_sessions_with_everything_they_own(
    app: FastAPI, auth: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    await ask(auth, await new_chat(auth), "doomed")
    await ask(stranger, await new_chat(stranger), "kept")
    state: AppState = app.state.nimbus
    token = auth.headers["Authorization"].removeprefix("Bearer ")
    from nimbus.sessions.service import hash_token

    async with state.database.transaction() as db:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await db.execute(update(Session).where(Session.token_hash == hash_token(token)).values(expires_at=past))
    report = await maintenance.run_cleanup(state.database)
    assert report.expired_sessions == 1
    assert (await _count(state, Session), await _count(state, Chat), await _count(state, Message)) == (1, 1, 2)
    assert (await stranger.get("/api/v1/chats")).json()["total"] == 1
    assert (await auth.get("/api/v1/chats")).status_code == 401


async def test_cleanup_closes_answers_left_streaming_by_a_dead_server(app: FastAPI, auth: httpx.AsyncClient) -> None:
    chat_id = await new_chat(auth)
    await ask(auth, chat_id, "hello")
    state: AppState = app.state.nimbus
    async with state.database.transaction() as db:
        long_ago = datetime.now(UTC) - timedelta(hours=2)
        await db.execute(
            update(Message).where(Message.role == "assistant").values(status="streaming", created_at=long_ago)
        )
    report = await maintenance.run_cleanup(state.database)
    assert report.stale_answers == 1
    messages = (await auth.get(f"/api/v1/chats/{chat_id}")).json()["messages"]
    assert messages[1]["status"] == "interrupted"
