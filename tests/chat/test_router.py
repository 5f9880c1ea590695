from __future__ import annotations

import json

import httpx

from tests.helpers import ask, new_chat


async def test_create_list_rename_delete_chat(auth: httpx.AsyncClient) -> None:
    first = await new_chat(auth, "Trip planning")
    second = await new_chat(auth)
    listed = (await auth.get("/api/v1/chats")).json()
    assert [c["id"] for c in listed["items"]] == [second, first]
    assert listed["total"] == 2
    assert listed["items"][0]["name"] == "New chat"

    renamed = await auth.patch(f"/api/v1/chats/{first}", json={"name": "  Holidays  "})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Holidays"
    assert (await auth.get("/api/v1/chats")).json()["items"][0]["id"] == first  # renaming touches it

    assert (await auth.delete(f"/api/v1/chats/{first}")).status_code == 204
    assert (await auth.get(f"/api/v1/chats/{first}")).status_code == 404
    assert (await auth.get("/api/v1/chats")).json()["total"] == 1


async def test_chats_are_paginated_most_recent_first(auth: httpx.AsyncClient) -> None:
    ids = [await new_chat(auth, f"chat {i}") for i in range(5)]
    page = (await auth.get("/api/v1/chats", params={"limit": 2, "offset": 2})).json()
    assert [c["id"] for c in page["items"]] == [ids[2], ids[1]]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    assert (await auth.get("/api/v1/chats", params={"limit": 0})).status_code == 422


async def test_another_sessions_chat_is_not_found(auth: httpx.AsyncClient, stranger: httpx.AsyncClient) -> None:
    chat_id = await new_chat(auth, "private")
    await ask(auth, chat_id, "secret question")
    for method, path, body in [
        ("GET", f"/api/v1/chats/{chat_id}", None),
        ("PATCH", f"/api/v1/chats/{chat_id}", {"name": "mine"}),
        ("DELETE", f"/api/v1/chats/{chat_id}", None),
        ("GET", f"/api/v1/chats/{chat_id}/export", None),
        ("POST", f"/api/v1/chats/{chat_id}/messages", {"content": "hi"}),
        ("POST", f"/api/v1/chats/{chat_id}/regenerate", None),
    ]:
        response = await stranger.request(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "chat_not_found"
    assert (await stranger.get("/list")).json()["total"] == 0
    assert (await stranger.get("/api/v1/chats")).json()["total"] == 0
    assert (await auth.get(f"/api/v1/chats/{chat_id}")).status_code == 200


async def test_unknown_and_malformed_chat_ids(auth: httpx.AsyncClient) -> None:
    assert (await auth.get("/api/v1/chats/00000000-0000-0000-0000-000000000000")).status_code == 404
    response = await auth.get("/api/v1/chats/not-a-uuid")
    assert response.status_code == 422
    assert "chat_id" in response.json()["error"]["message"]


async def test_rename_rejects_blank_names(auth: httpx.AsyncClient) -> None:
    chat_id = await new_chat(auth)
    assert (await auth.patch(f"/api/v1/chats/{chat_id}", json={"name": "   "})).status_code == 422
    assert (await auth.patch(f"/api/v1/chats/{chat_id}", json={})).status_code == 422


async def test_export_markdown_and_json(auth: httpx.AsyncClient) -> None:
    chat_id = await new_chat(auth, "Export me")
    await ask(auth, chat_id, "What is 2+2?")
    markdown = await auth.get(f"/api/v1/chats/{chat_id}/export")
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "attachment" in markdown.headers["content-disposition"]
    assert markdown.text.startswith("# Export me\n")
    assert "What is 2+2?" in markdown.text
    assert "Echo: What is 2+2?" in markdown.text

    exported = await auth.get(f"/api/v1/chats/{chat_id}/export", params={"format": "json"})
    document = json.loads(exported.text)
    assert [m["role"] for m in document["messages"]] == ["user", "assistant"]
    assert document["messages"][1]["content"] == "Echo: What is 2+2?"
    assert (await auth.get(f"/api/v1/chats/{chat_id}/export", params={"format": "pdf"})).status_code == 422


async def test_unknown_route_and_method_use_the_error_format(auth: httpx.AsyncClient) -> None:
    missing = await auth.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await auth.put("/api/v1/chats")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
