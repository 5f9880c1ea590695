"""Small helpers shared by API tests."""

from __future__ import annotations

import json
from typing import Any

import httpx

from nimbus.terminal_chat import sse_events


def parse_sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of an SSE body, data decoded from JSON."""
    return [(event, json.loads(data)) for event, data in sse_events(iter(body.splitlines()))]


async def new_chat(http: httpx.AsyncClient, name: str | None = None) -> str:
    response = await http.post("/api/v1/chats", json={"name": name})
    assert response.status_code == 201, response.text
    chat_id: str = response.json()["id"]
    return chat_id


async def ask(http: httpx.AsyncClient, chat_id: str, content: str) -> list[tuple[str, dict[str, Any]]]:
    response = await http.post(f"/api/v1/chats/{chat_id}/messages", json={"content": content})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)
