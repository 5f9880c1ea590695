from __future__ import annotations

from pathlib import Path

import httpx

from nimbus.db import migrate
from tests.fakes.openai_server import FakeOpenAI, Status
from tests.helpers import ask, new_chat

VERSION = (Path(__file__).resolve().parents[2] / "VERSION").read_text().strip()


async def test_message_without_token_creates_a_session(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    response = await client.post("/message", json={"message": "Hello there"})
    assert response.status_code == 200
    body = response.json()
    assert body["reply"] == "Echo: Hello there"
    assert body["token"]
    headers = {"Authorization": f"Bearer {body['token']}"}
    follow_up = await client.post("/message", json={"message": "Again", "chat_id": body["chat_id"]}, headers=headers)
    assert follow_up.status_code == 200
    assert follow_up.json()["chat_id"] == body["chat_id"]
    assert follow_up.json()["token"] is None
    assert fake_openai.chat_requests[-1].body["messages"][1]["content"] == "Hello there"  # memory of the first turn
    chat = (await client.get(f"/api/v1/chats/{body['chat_id']}", headers=headers)).json()
    assert [m["content"] for m in chat["messages"]] == ["Hello there", "Echo: Hello there", "Again", "Echo: Again"]


async def test_message_errors(auth: httpx.AsyncClient, client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    assert (await auth.post("/message", json={"message": ""})).status_code == 422
    assert (await auth.post("/message", json={})).status_code == 422
    assert (await auth.post("/message", json={"message": "x" * 40_000})).status_code == 413
    unknown = await auth.post("/message", json={"message": "hi", "chat_id": "00000000-0000-0000-0000-000000000001"})
    assert unknown.status_code == 404
    bad_token = await client.post("/message", json={"message": "hi"}, headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401
    fake_openai.script(Status(500), Status(500))
    failed = await auth.post("/message", json={"message": "will fail"})
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "llm_error"


async def test_list_returns_the_sessions_questions_and_answers(
    auth: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    first = await new_chat(auth)
    await ask(auth, first, "one")
    await ask(auth, first, "two")
    second = await new_chat(auth)
    await ask(auth, second, "three")
    await ask(stranger, await new_chat(stranger), "not yours")
    page = (await auth.get("/list", params={"limit": 2})).json()
    assert page["total"] == 3
    assert [(i["question"], i["answer"]) for i in page["items"]] == [("three", "Echo: three"), ("two", "Echo: two")]
    rest = (await auth.get("/list", params={"limit": 2, "offset": 2})).json()
    assert [i["question"] for i in rest["items"]] == ["one"]
    assert rest["items"][0]["chat_id"] == first


async def test_version_health_and_readiness(client: httpx.AsyncClient) -> None:
    expected = VERSION
    assert (await client.get("/version")).json() == {"version": expected}
    health = await client.get("/healthcheck")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "llm"}
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert migrate.head_revision() in ready.json()["checks"]["database"]


async def test_model_endpoint_shows_provider_and_model(auth: httpx.AsyncClient) -> None:
    body = (await auth.get("/api/v1/model")).json()
    assert body["provider"] == "openai"
    assert body["model"] == "fake-model"
    assert body["ready"] is True


async def test_openapi_documents_error_responses(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    post_message = spec["paths"]["/api/v1/chats/{chat_id}/messages"]["post"]["responses"]
    assert {"200", "401", "404", "413", "422", "502", "503", "504"} <= set(post_message)
    assert "ErrorBody" in spec["components"]["schemas"]
